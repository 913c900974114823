"""POST /v1/logs: OTLP/HTTP logs export, kept as events of the spans the records name.

Served by OtlpEndpoint (the same content types, compression, body bounds, in-flight limits and
answers as /v1/traces), with this Signal: the body decodes to log records (mcp_server.otlp), which
store.logs attaches to their spans or keeps until their span arrives. The answer is an
ExportLogsServiceResponse whose partial_success counts the records not kept, with the reasons:
those without a span to belong to, and those refused because too many wait for their spans.
"""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from mcp_server.http.otlp_endpoint import Signal
from mcp_server.otlp import decode_logs_request
from store import Database
from store.logs import PendingLogs


def _store_logs(db: Database, logs: PendingLogs | None, body: bytes, encoding: str) -> list[str]:
    if logs is None:
        raise RuntimeError("this OtlpEndpoint was built without span_logs, so it cannot take logs")
    decoded = decode_logs_request(body, encoding)  # type: ignore[arg-type]
    return decoded.rejected + logs.write(db, decoded.logs).refused


LOGS = Signal(_store_logs, ExportLogsServiceResponse, "rejected_log_records", "log records")
