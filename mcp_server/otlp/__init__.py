"""OTLP trace export bodies (protobuf or JSON) in, normalized `SpanIn` objects out.

The HTTP endpoint parses a body with `parse_request` and stores its spans in `batches`, so a large
export is never held as spans all at once; `decode_request` gives a whole body's spans in one go.
The importer uses the iterators underneath the same way for large files.
"""

from mcp_server.otlp.decode import DecodedBatch, batches, decode_request, parse_json, parse_protobuf, parse_request
from mcp_server.otlp.from_json import iter_json_request
from mcp_server.otlp.from_protobuf import iter_protobuf_request
from store.errors import InvalidOtlp

__all__ = [
    "DecodedBatch",
    "InvalidOtlp",
    "batches",
    "decode_request",
    "iter_json_request",
    "iter_protobuf_request",
    "parse_json",
    "parse_protobuf",
    "parse_request",
]
