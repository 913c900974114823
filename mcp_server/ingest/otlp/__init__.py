"""OTLP trace export bodies (protobuf or JSON) in, normalized `SpanIn` objects out; OTLP logs
export bodies in, `LogIn` records (each in the span-event form of the span it names) out.

`decode_request` and `decode_logs_request` decode a whole body in one go. The HTTP endpoint parses a
trace body with `parse_request` and stores its spans in `batches`, so a large export is never held
as spans all at once; the importer uses the iterators underneath the same way for large files.
"""

from mcp_server.ingest.otlp.decode import (
    DECODE_MEMORY_FACTOR,
    DecodedBatch,
    DecodedLogs,
    batches,
    decode_logs_request,
    decode_request,
    parse_json,
    parse_protobuf,
    parse_request,
)
from mcp_server.ingest.otlp.from_json import iter_json_request
from mcp_server.ingest.otlp.from_protobuf import iter_protobuf_request
from store.errors import InvalidOtlp

__all__ = [
    "DECODE_MEMORY_FACTOR",
    "DecodedBatch",
    "DecodedLogs",
    "InvalidOtlp",
    "batches",
    "decode_logs_request",
    "decode_request",
    "iter_json_request",
    "iter_protobuf_request",
    "parse_json",
    "parse_protobuf",
    "parse_request",
]
