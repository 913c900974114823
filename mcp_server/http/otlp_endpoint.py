"""POST /v1/traces: OTLP/HTTP trace export, protobuf or JSON, answered only after the commit.
(POST /v1/logs is the same endpoint with another Signal: see otlp_logs.)

The answer is an ExportTraceServiceResponse in the request's encoding; spans that could not be
stored are counted in partial_success with the reasons. Bodies that cannot be read get 400,
oversized ones 413, unsupported media types or encodings 415, each with a google.rpc.Status
body whose message says what to send instead. When more exports wait than the server can take,
it answers 503 with Retry-After (an exporter retries), rather than queueing without bound: at
most max_in_flight requests are read or stored at once, so buffered bodies never take more than
max_in_flight x max_body_bytes of memory.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mcp_server.http.body import (
    BodyTooLarge,
    CorruptBody,
    UnsupportedEncoding,
    read_body,
)
from mcp_server.otlp import InvalidOtlp, decode_request
from mcp_server.otlp.shapes import camel
from store import Database, write_spans
from store.logs import PendingLogs

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_REJECTION_MESSAGES = 20
"""partial_success.error_message lists this many reasons, then says how many more there were."""

# google.rpc.Code values used in Status bodies.
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNAVAILABLE = 14


def _encoding_of(content_type: str) -> str | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"):
        return "protobuf"
    if media == JSON:
        return "json"
    return None


def _status(code: int, message: str, encoding: str, http_status: int) -> Response:
    if encoding == "json":
        return Response(
            json.dumps({"code": code, "message": message}), status_code=http_status, media_type=JSON
        )
    body = status_pb2.Status(code=code, message=message).SerializeToString()
    return Response(body, status_code=http_status, media_type=PROTOBUF)


@dataclass(frozen=True, slots=True)
class Signal:
    """What differs between the OTLP exports this endpoint takes: how a body is stored, and the
    answer's message and its count of rejected items."""

    store: Callable[[Database, PendingLogs | None, bytes, str], list[str]]
    """Decode and store a body (protobuf or json); one message per item not stored. Runs in a
    worker thread; raises InvalidOtlp for a body that cannot be read."""
    response: type[Message]
    rejected_field: str
    """partial_success's count: rejected_spans, rejected_log_records."""
    items: str
    """What the items are called in the answer's message."""


def _store_spans(db: Database, logs: PendingLogs | None, body: bytes, encoding: str) -> list[str]:
    batch = decode_request(body, encoding)  # type: ignore[arg-type]
    write_spans(db, batch.spans, logs=logs)
    return batch.rejected


TRACES = Signal(_store_spans, ExportTraceServiceResponse, "rejected_spans", "spans")


def _export_response(rejected: list[str], encoding: str, signal: Signal) -> Response:
    message = "; ".join(rejected[:MAX_REJECTION_MESSAGES])
    if len(rejected) > MAX_REJECTION_MESSAGES:
        message += f"; and {len(rejected) - MAX_REJECTION_MESSAGES} more rejected {signal.items}"
    if encoding == "json":
        body: dict[str, object] = {}
        if rejected:
            body["partialSuccess"] = {camel(signal.rejected_field): str(len(rejected)), "errorMessage": message}
        return Response(json.dumps(body), media_type=JSON)
    response = signal.response()
    if rejected:
        setattr(response.partial_success, signal.rejected_field, len(rejected))  # type: ignore[attr-defined]
        response.partial_success.error_message = message  # type: ignore[attr-defined]
    return Response(response.SerializeToString(), media_type=PROTOBUF)


class OtlpEndpoint:
    """The ASGI endpoint; holds the store and the limits it enforces.

    One instance serves every signal (handle for traces, handler(signal) for others), so the
    limits below hold for all OTLP requests together. `span_logs` keeps log records as events
    of their spans (see store.logs): spans are written with it, and /v1/logs needs it.
    """

    def __init__(
        self,
        db: Database,
        *,
        max_body_bytes: int,
        max_concurrent: int = 2,
        max_in_flight: int = 6,
        span_logs: PendingLogs | None = None,
    ) -> None:
        self.db = db
        self.span_logs = span_logs
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self._in_flight = 0  # touched only on the event loop
        # Decoding and writing run in worker threads; sqlite3 releases the GIL while SQLite works,
        # so one batch decodes while another is written. More would only queue on the writer.
        self._limiter = anyio.CapacityLimiter(max_concurrent)

    def handler(self, signal: Signal) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint for another signal's exports (the route's function)."""

        async def handle(request: Request) -> Response:
            return await self.handle(request, signal)

        return handle

    async def handle(self, request: Request, signal: Signal = TRACES) -> Response:
        content_type = request.headers.get("content-type", "")
        encoding = _encoding_of(content_type)
        if encoding is None:
            return _status(
                _INVALID_ARGUMENT,
                f"Content-Type {content_type or '(none)'!r} is not supported; send OTLP as "
                f"{PROTOBUF} or {JSON}.",
                "json",
                415,
            )
        if self._in_flight >= self.max_in_flight:
            response = _status(
                _UNAVAILABLE, "the server is busy storing other exports; retry shortly.", encoding, 503
            )
            response.headers["Retry-After"] = "1"
            return response
        self._in_flight += 1
        try:
            return await self._receive(request, encoding, signal)
        finally:
            self._in_flight -= 1

    async def _receive(self, request: Request, encoding: str, signal: Signal) -> Response:
        try:
            body = await read_body(request, self.max_body_bytes)
        except ClientDisconnect:
            # The exporter went away mid-body: nothing was stored, and nobody reads an answer.
            return Response(status_code=499)
        except BodyTooLarge as exc:
            return _status(_RESOURCE_EXHAUSTED, str(exc), encoding, 413)
        except UnsupportedEncoding as exc:
            return _status(_INVALID_ARGUMENT, str(exc), encoding, 415)
        except CorruptBody as exc:
            return _status(_INVALID_ARGUMENT, str(exc), encoding, 400)
        try:
            rejected = await anyio.to_thread.run_sync(
                signal.store, self.db, self.span_logs, body, encoding, limiter=self._limiter
            )
        except InvalidOtlp as exc:
            return _status(_INVALID_ARGUMENT, str(exc), encoding, 400)
        return _export_response(rejected, encoding, signal)
