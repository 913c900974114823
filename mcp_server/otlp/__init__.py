"""OTLP trace export bodies (protobuf or JSON) in, normalized `SpanIn` objects out; OTLP logs
export bodies in, `LogIn` records (each in the span-event form of the span it names) out.

`decode_request` and `decode_logs_request` are what the HTTP endpoints call; the importer uses the
iterators underneath so a large file is written in batches instead of being held as spans all at
once.
"""

from mcp_server.otlp.decode import (
    DecodedBatch,
    DecodedLogs,
    decode_logs_request,
    decode_request,
    parse_json,
    parse_protobuf,
)
from mcp_server.otlp.from_json import iter_json_request
from mcp_server.otlp.from_protobuf import iter_protobuf_request
from store.errors import InvalidOtlp

__all__ = [
    "DecodedBatch",
    "DecodedLogs",
    "InvalidOtlp",
    "decode_logs_request",
    "decode_request",
    "iter_json_request",
    "iter_protobuf_request",
    "parse_json",
    "parse_protobuf",
]
