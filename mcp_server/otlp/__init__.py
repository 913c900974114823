"""OTLP trace export bodies (protobuf or JSON) in, normalized `SpanIn` objects out.

`decode_request` is what the HTTP endpoint calls; the importer uses the iterators underneath so a
large file is written in batches instead of being held as spans all at once.
"""

from mcp_server.otlp.decode import DecodedBatch, decode_request, parse_json, parse_protobuf
from mcp_server.otlp.from_json import iter_json_request
from mcp_server.otlp.from_protobuf import iter_protobuf_request
from store.errors import InvalidOtlp

__all__ = [
    "DecodedBatch",
    "InvalidOtlp",
    "decode_request",
    "iter_json_request",
    "iter_protobuf_request",
    "parse_json",
    "parse_protobuf",
]
