"""POST /v1/logs: OTLP/HTTP logs export, kept as events of the spans the records name.

Served by OtlpEndpoint.receive (the same content types, compression, body bounds, in-flight
limits and answers as /v1/traces): the body decodes to log records (mcp_server.otlp), which
store.logs attaches to their spans or keeps until their span arrives. The answer is an
ExportLogsServiceResponse whose partial_success counts the records not kept, with the reasons:
those without a span to belong to, and those refused because too many wait for their spans.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from starlette.requests import Request
from starlette.responses import Response

from mcp_server.http.otlp_endpoint import Encoding, OtlpEndpoint, Signal
from mcp_server.otlp import decode_logs_request
from store.logs import PendingLogs

LOGS = Signal(ExportLogsServiceResponse, "rejected_log_records", "log records")


def logs_endpoint(otlp: OtlpEndpoint, logs: PendingLogs) -> Callable[[Request], Awaitable[Response]]:
    """The route function for POST /v1/logs, sharing `otlp`'s limits with /v1/traces."""

    def store(body: bytearray, encoding: Encoding) -> list[str]:
        decoded = decode_logs_request(body, encoding)
        return decoded.rejected + logs.write(otlp.db, decoded.logs).refused

    async def handle(request: Request) -> Response:
        return await otlp.receive(request, store, LOGS)

    return handle
