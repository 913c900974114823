"""POST /v1/logs: OTLP/HTTP logs export, kept as events of the spans the records name.

Served by OtlpEndpoint.receive (the same content types, compression, body bounds, in-flight
limits and answers as /v1/traces): the body decodes to log records (mcp_server.ingest.otlp), which
store.logs attaches to their spans or keeps until their span arrives. The answer is an
ExportLogsServiceResponse whose partial_success counts the records not kept, with the reasons:
those without a span to belong to, and those past a bound (store.logs: per span, or waiting for
spans); older waiting records deleted to make room are a note in its error_message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from starlette.requests import Request
from starlette.responses import Response

from mcp_server.http.otlp_endpoint import Encoding, OtlpEndpoint, Signal, Stored
from mcp_server.ingest.otlp import decode_logs_request
from store.logs import PendingLogs

LOGS = Signal(ExportLogsServiceResponse, "rejected_log_records", "log records")


def logs_endpoint(otlp: OtlpEndpoint, logs: PendingLogs) -> Callable[[Request], Awaitable[Response]]:
    """The route function for POST /v1/logs, sharing `otlp`'s limits with /v1/traces."""

    def store(body: bytearray, encoding: Encoding) -> Stored:
        decoded = decode_logs_request(body, encoding)
        written = logs.write(otlp.db, decoded.logs)
        return Stored(decoded.rejected + written.refused, written.evicted)

    async def handle(request: Request) -> Response:
        return await otlp.receive(request, store, LOGS)

    return handle
