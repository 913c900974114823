"""POST /v1/traces: OTLP/HTTP trace export, protobuf or JSON, answered only after the commit.

The answer is an ExportTraceServiceResponse in the request's encoding; spans that could not be
stored are counted in partial_success with the reasons. Bodies that cannot be read get 400,
oversized ones 413, unsupported media types or encodings 415, each with a google.rpc.Status
body whose message says what to send instead. When the server cannot take an export now it
answers 503 with Retry-After (an exporter retries), rather than queueing without bound: the
bodies held in memory at once are bounded in bytes, in all and per client address (a slow client
holds only what it has sent, and mcp_server.http.deadlines ends it), a body once read is charged
what decoding it takes (DECODE_MEMORY_FACTOR times its bytes) until it is stored, at most
MAX_IN_FLIGHT read bodies wait to be stored, and a store busy with another process's write is 503 as well.

A large export is stored in batches (mcp_server.ingest.otlp.batches), each its own transaction, so its
working set stays small; it is answered once every batch is committed. A failure after some
batches were committed is never a 200: a busy store is 503 (resending is safe, a span sent twice
is one row), and a body found malformed half way is 400 saying how many spans were stored.

OtlpEndpoint.receive is the machinery; each signal's route passes it its store and its Signal
(POST /v1/logs: see otlp_logs).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mcp_server.access.service import ExportTally
from mcp_server.http.auth import request_access
from mcp_server.http.body import BodyBudget, BodyTooLarge, BudgetExhausted, CorruptBody, UnsupportedEncoding, read_body
from mcp_server.http.heap import give_back_memory
from mcp_server.ingest.otlp import DECODE_MEMORY_FACTOR, InvalidOtlp, batches, parse_request
from mcp_server.ingest.otlp.shapes import camel
from mcp_server.settings import Settings
from store import Database, write_spans

Encoding = Literal["protobuf", "json"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_REJECTION_MESSAGES = 20
"""partial_success.error_message lists this many reasons, then says how many more there were."""

# google.rpc.Code values used in Status bodies.
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNAVAILABLE = 14

RETRY_AFTER_S = "1"
MAX_IN_FLIGHT = 16
"""Read bodies that may wait to be stored at once; one more is 503 (each holds its decoded size)."""
MAX_CONCURRENT_STORES = 2
"""Bodies decoded and written at once, in worker threads: sqlite3 releases the GIL while SQLite
works, so one batch decodes while another is written. More would only queue on the writer."""
LARGE_BODY_BYTES = 16 * 1024 * 1024
"""After storing a body this large, freed memory is given back to the operating system."""


def _encoding_of(content_type: str) -> Encoding | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"):
        return "protobuf"
    if media == JSON:
        return "json"
    return None


def _status(code: int, message: str, encoding: Encoding, http_status: int) -> Response:
    if encoding == "json":
        return Response(
            json.dumps({"code": code, "message": message}), status_code=http_status, media_type=JSON
        )
    body = status_pb2.Status(code=code, message=message).SerializeToString()
    return Response(body, status_code=http_status, media_type=PROTOBUF)


def _retry_later(message: str, encoding: Encoding) -> Response:
    response = _status(_UNAVAILABLE, message, encoding, 503)
    response.headers["Retry-After"] = RETRY_AFTER_S
    return response


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY (or an extended form of it): another connection held the write lock too long."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@dataclass(frozen=True, slots=True)
class Signal:
    """What the answer to one kind of OTLP export says: its response message and its count of
    rejected items."""

    response: type[Message]
    rejected_field: str
    """partial_success's count: rejected_spans, rejected_log_records."""
    items: str
    """What the items are called in the answer's message."""


TRACES = Signal(ExportTraceServiceResponse, "rejected_spans", "spans")


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one body did: one message per item rejected (counted in partial_success),
    and notes the sender should read that reject none of its items (OTLP's warning form:
    partial_success with a count of 0 and an error_message)."""

    rejected: list[str]
    notes: list[str] = field(default_factory=list)


def _export_response(stored: Stored, encoding: Encoding, signal: Signal) -> Response:
    """The 200 answer for a stored export, in the request's encoding, counting the rejections."""
    rejected = stored.rejected
    message = "; ".join([*stored.notes, *rejected[:MAX_REJECTION_MESSAGES]])
    if len(rejected) > MAX_REJECTION_MESSAGES:
        message += f"; and {len(rejected) - MAX_REJECTION_MESSAGES} more rejected {signal.items}"
    if encoding == "json":
        body: dict[str, object] = {}
        if message:
            partial: dict[str, str] = {camel(signal.rejected_field): str(len(rejected))} if rejected else {}
            body["partialSuccess"] = {**partial, "errorMessage": message}
        return Response(json.dumps(body), media_type=JSON)
    response = signal.response()
    if message:
        setattr(response.partial_success, signal.rejected_field, len(rejected))
        response.partial_success.error_message = message
    return Response(response.SerializeToString(), media_type=PROTOBUF)


StoreBody = Callable[[bytearray, Encoding], Stored]
"""Stores one read body (in a worker thread); says what it rejected."""


class OtlpEndpoint:
    """The ASGI endpoint; holds the store and the limits it enforces."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.max_body_bytes = settings.max_body_bytes
        # Any body the size limit allows must fit in the budget and in a client's share, or it could
        # never be taken.
        limit = max(settings.max_buffered_body_bytes, settings.max_body_bytes)
        per_client = settings.max_buffered_body_bytes_per_client or limit // 2
        self.budget = BodyBudget(limit, max(per_client, settings.max_body_bytes))
        self._in_flight = 0  # touched only on the event loop
        self._limiter = anyio.CapacityLimiter(MAX_CONCURRENT_STORES)
        self.tally = ExportTally(db)  # who sent what, in store.tokens' record of writes

    async def handle(self, request: Request) -> Response:
        """POST /v1/traces."""
        return await self.receive(request, self._store_spans, TRACES)

    async def receive(self, request: Request, store: StoreBody, signal: Signal) -> Response:
        """Check the media type, read the body within the limits, store it, answer per OTLP/HTTP."""
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
        client = request.client.host if request.client else ""
        with self.budget.hold(client) as holding:
            try:
                body = await read_body(request, self.max_body_bytes, holding)
                # Parsed, a body takes many times its bytes (as Python objects) until it is stored.
                holding.ensure(len(body) * DECODE_MEMORY_FACTOR)
            except ClientDisconnect:
                # The exporter went away mid-body: nothing was stored, and nobody reads an answer.
                return Response(status_code=499)
            except BudgetExhausted as exc:
                return _retry_later(str(exc), encoding)
            except BodyTooLarge as exc:
                return _status(_RESOURCE_EXHAUSTED, str(exc), encoding, 413)
            except UnsupportedEncoding as exc:
                return _status(_INVALID_ARGUMENT, str(exc), encoding, 415)
            except CorruptBody as exc:
                return _status(_INVALID_ARGUMENT, str(exc), encoding, 400)
            if self._in_flight >= MAX_IN_FLIGHT:
                return _retry_later("the server is busy storing other exports; retry shortly.", encoding)
            self._in_flight += 1
            try:
                stored = await anyio.to_thread.run_sync(store, body, encoding, limiter=self._limiter)
            except InvalidOtlp as exc:
                return _status(_INVALID_ARGUMENT, str(exc), encoding, 400)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                return _retry_later(
                    "the store is busy: another process (such as `tracejudge import`) is writing to it; "
                    "retry shortly.",
                    encoding,
                )
            finally:
                self._in_flight -= 1
        if (action := self.tally.due(request_access(request.scope), request.url.path)) is not None:
            await anyio.to_thread.run_sync(self.tally.record, request_access(request.scope), action)
        return _export_response(stored, encoding, signal)

    def _store_spans(self, body: bytearray, encoding: Encoding) -> Stored:
        spans = parse_request(body, encoding)
        large = len(body) >= LARGE_BODY_BYTES
        body.clear()  # parsed: its bytes are not needed while the spans are stored, so free them now
        rejected: list[str] = []
        stored = 0
        try:
            for batch in batches(spans):
                write_spans(self.db, batch.spans)
                stored += len(batch.spans)
                rejected += batch.rejected
        except InvalidOtlp as exc:
            if stored:
                raise InvalidOtlp(
                    f"{exc} {stored:,} spans of this export were stored before that was found; fix the "
                    "body and send it again (a span sent twice is stored once)."
                ) from exc
            raise
        finally:
            if large:
                give_back_memory()
        return Stored(rejected)
