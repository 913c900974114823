"""OTLP log records kept as events of the span they name, and those still waiting for their span.

Instrumentations on the event-based GenAI conventions send a model call's messages as log records
carrying the call's trace and span ids, and usually before the span (a span is exported when it
ends, its logs as they happen). A record becomes an event of its span; the Database's
`attach_events` (the semantic conventions, which the store cannot import) adds it and derives
the span's inputs and outputs again, so the span and its trace read exactly as if the record had
been a span event.

- Every record waits in pending_logs first; the write_spans that stores its span takes it, in
  the same transaction (store.log_events).
- A record whose span is stored: the span is written again through write_spans, so its row, its
  full-text entry and the trace's previews and totals all follow.
- A span sent again, by any path, keeps the events its logs gave it (write_spans carries the
  replaced row's over), and a record sent twice (an exporter's retry) is one event.

Bounded, since a client could send any number of records, for spans that never come:
- one span keeps at most max_events_per_span log events and max_event_bytes_per_span bytes of
  them (stored and waiting together); records past that are refused, and the caller reports them;
- at most max_bytes of records wait: past it the oldest waiting records are deleted (a warning in
  the server log, and a note for the caller's answer), since the newest are the likeliest to find
  their span; a record larger than max_bytes alone is refused;
- a record that has waited ttl_s is deleted, with a warning in the server log naming its traces.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.connection import Database
from store.incoming import SpanIn
from store.ingest import write_spans
from store.json_text import dumps
from store.log_events import event_key, log_events

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
DEFAULT_PENDING_TTL_S = 3600.0
DEFAULT_MAX_EVENTS_PER_SPAN = 1_000
DEFAULT_MAX_EVENT_BYTES_PER_SPAN = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogIn:
    """One log record, decoded, for the span it names: `event` is its span-event form, marked
    with store.log_events.LOG_MARKER."""

    trace_id: str
    span_id: str
    event: dict[str, Any]


@dataclass(slots=True)
class LogsWritten:
    attached: int = 0
    """Records added to spans already stored."""
    waiting: int = 0
    """Records stored to wait for their span."""
    refused: list[str] = field(default_factory=list)
    """One message per record not kept: its span is at a per-span bound, or it alone is larger
    than max_bytes and so could never wait."""
    evicted: list[str] = field(default_factory=list)
    """What was deleted to make room for this write's waiting records within max_bytes (the
    oldest waiting records, earlier requests' first): one message, or none."""
    expired: int = 0
    """Records deleted by this write because they had waited longer than ttl_s."""


@dataclass(slots=True)
class _Held:
    """The log events one span has, stored on it or waiting for it."""

    count: int = 0
    size: int = 0
    keys: set[str] = field(default_factory=set)

    def add(self, event: dict[str, Any], size: int) -> None:
        self.count += 1
        self.size += size
        self.keys.add(event_key(event))


class PendingLogs:
    """The log records of spans: attached when their span is stored, kept waiting until then."""

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        ttl_s: float = DEFAULT_PENDING_TTL_S,
        max_events_per_span: int = DEFAULT_MAX_EVENTS_PER_SPAN,
        max_event_bytes_per_span: int = DEFAULT_MAX_EVENT_BYTES_PER_SPAN,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.max_events_per_span = max_events_per_span
        self.max_event_bytes_per_span = max_event_bytes_per_span
        self._clock = clock

    def write(self, db: Database, logs: Sequence[LogIn]) -> LogsWritten:
        """Attach each record to its span if stored, else keep it waiting, within the bounds
        (see the module docstring)."""
        result = LogsWritten()
        if not logs:
            return result
        now = self._clock()
        by_trace: dict[str, set[str]] = {}
        for log in logs:
            by_trace.setdefault(log.trace_id, set()).add(log.span_id)
        with db.transaction() as conn:
            result.expired = self._expire(conn, now)
            stored = _stored_spans(conn, by_trace)
            held = _held(conn, stored, by_trace)
            changed: set[tuple[str, str]] = set()
            rows: list[tuple[str, str, int, int, str]] = []
            waiting: list[int] = []  # positions in rows of the records that wait
            for log in logs:
                key = (log.trace_id, log.span_id)
                text = dumps(log.event)
                size = len(text.encode())
                span = held.setdefault(key, _Held())
                if event_key(log.event) in span.keys:
                    # An exporter's retry: the span has (or will have) this event once.
                    result.attached += key in stored
                    result.waiting += key not in stored
                    continue
                refusal = self._over_span_bounds(log, span, size)
                if refusal is None and key not in stored and size > self.max_bytes:
                    refusal = self._refusal(log, f"it alone is {size:,} bytes")
                if refusal is not None:
                    result.refused.append(refusal)
                    continue
                span.add(log.event, size)
                if key in stored:
                    result.attached += 1
                    changed.add(key)
                else:
                    result.waiting += 1
                    waiting.append(len(rows))
                # Records for stored spans wait too, for the moment until write_spans below takes
                # them: if that write fails, they are attached by the span's next write instead.
                rows.append((log.trace_id, log.span_id, now, size, text))
            dropped = self._make_room(conn, rows, waiting, result)
            conn.executemany(
                "INSERT INTO pending_logs (trace_id, span_id, received_ns, size, event) VALUES (?, ?, ?, ?, ?)",
                [row for i, row in enumerate(rows) if i not in dropped],
            )
        if changed:
            # A second transaction, since write_spans opens its own. The spans were read in the
            # first; one sent again with other content in between would lose that content, which
            # OTel does not do (an ended span is exported once, retried as it was).
            write_spans(db, [_span_of(stored[key]) for key in changed])
        return result

    def _over_span_bounds(self, log: LogIn, span: _Held, size: int) -> str | None:
        where = f"log record {log.event.get('name')!r} for span {log.span_id} of trace {log.trace_id}"
        if span.count >= self.max_events_per_span:
            return (
                f"{where}: the span already has {span.count:,} log events, the most one span keeps "
                f"({self.max_events_per_span:,}, TRACEJUDGE_MAX_LOG_EVENTS_PER_SPAN); the record was dropped. "
                "Send fewer records per span, or raise the limit"
            )
        if span.size + size > self.max_event_bytes_per_span:
            return (
                f"{where}: its {size:,} bytes would take the span's log events to {span.size + size:,} bytes, "
                f"past the most one span keeps ({self.max_event_bytes_per_span:,}, "
                "TRACEJUDGE_MAX_LOG_EVENT_BYTES_PER_SPAN); the record was dropped. Send less content per span, "
                "or raise the limit"
            )
        return None

    def _make_room(
        self, conn: sqlite3.Connection, rows: list[tuple[str, str, int, int, str]], waiting: list[int], result: LogsWritten
    ) -> set[int]:
        """Keep the records waiting within max_bytes by deleting the oldest first: those of
        earlier requests, then this one's first records. The newest are the likeliest to find
        their span (an exporter sends a span soon after its logs); refusing them would keep
        records whose span may never come. Returns the positions in rows not to insert."""
        incoming = sum(rows[i][3] for i in waiting)
        waiting_bytes = conn.execute("SELECT coalesce(sum(size), 0) FROM pending_logs").fetchone()[0]
        need = waiting_bytes + incoming - self.max_bytes
        if need <= 0:
            return set()
        # Every row before the one whose running total reaches `need` goes, and that row too.
        evicted = conn.execute(
            "DELETE FROM pending_logs WHERE id IN (SELECT id FROM (SELECT id, size, "
            "sum(size) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS freed FROM pending_logs) "
            "WHERE freed - size < ?) RETURNING trace_id, size",
            (need,),
        ).fetchall()
        need -= sum(row[1] for row in evicted)
        dropped: set[int] = set()
        for i in waiting:
            if need <= 0:
                break
            dropped.add(i)
            need -= rows[i][3]
            result.waiting -= 1
            trace_id, span_id = rows[i][0], rows[i][1]
            result.refused.append(
                f"log record for span {span_id} of trace {trace_id}: deleted to make room for this request's "
                f"later records, as more than {self.max_bytes:,} bytes would wait for spans this server has not "
                "received (TRACEJUDGE_PENDING_LOGS_MAX_BYTES); export the spans too, or raise the limit"
            )
        if evicted:
            traces = sorted({row[0] for row in evicted})
            message = (
                f"deleted {len(evicted):,} older OTLP log records that waited for spans this server has not "
                f"received (traces {', '.join(traces[:10])}{' ...' if len(traces) > 10 else ''}), to keep the newest "
                f"within {self.max_bytes:,} bytes (TRACEJUDGE_PENDING_LOGS_MAX_BYTES); export spans and logs to "
                "this server together, or raise the limit"
            )
            logger.warning("%s", message)
            result.evicted.append(message)
        return dropped

    def _expire(self, conn: sqlite3.Connection, now: int) -> int:
        cutoff = now - int(self.ttl_s * 1e9)
        traces = [
            row[0]
            for row in conn.execute(
                "DELETE FROM pending_logs WHERE received_ns < ? RETURNING trace_id", (cutoff,)
            ).fetchall()
        ]
        if traces:
            shown = sorted(set(traces))
            logger.warning(
                "deleted %d OTLP log records that waited %.0f s for spans that never arrived "
                "(traces %s%s); export spans and logs to this server together, or raise "
                "TRACEJUDGE_PENDING_LOGS_TTL_S",
                len(traces), self.ttl_s, ", ".join(shown[:10]), " ..." if len(shown) > 10 else "",
            )  # fmt: skip
        return len(traces)

    def _refusal(self, log: LogIn, why: str) -> str:
        return (
            f"log record {log.event.get('name')!r} for span {log.span_id} of trace {log.trace_id}: {why}, more "
            f"than the most kept waiting for spans this server has not received ({self.max_bytes:,}, "
            "TRACEJUDGE_PENDING_LOGS_MAX_BYTES); export the spans too (their logs are attached when they arrive), "
            "or raise the limit"
        )


def _stored_spans(conn: sqlite3.Connection, by_trace: dict[str, set[str]]) -> dict[tuple[str, str], sqlite3.Row]:
    stored = {}
    for trace_id, span_ids in by_trace.items():
        for row in conn.execute(
            "SELECT * FROM spans WHERE trace_id = ? AND span_id IN (SELECT value FROM json_each(?))",
            (trace_id, dumps(sorted(span_ids))),
        ):
            stored[(row["trace_id"], row["span_id"])] = row
    return stored


def _held(
    conn: sqlite3.Connection, stored: dict[tuple[str, str], sqlite3.Row], by_trace: dict[str, set[str]]
) -> dict[tuple[str, str], _Held]:
    """Per span, the log events it has: on its stored row, and waiting for it."""
    held: dict[tuple[str, str], _Held] = {}
    for key, row in stored.items():
        span = held.setdefault(key, _Held())
        for event in log_events(row["events"]):
            span.add(event, len(dumps(event).encode()))
    for trace_id, span_ids in by_trace.items():
        for span_id, size, event in conn.execute(
            "SELECT span_id, size, event FROM pending_logs "
            "WHERE trace_id = ? AND span_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (trace_id, dumps(sorted(span_ids))),
        ):
            held.setdefault((trace_id, span_id), _Held()).add(json.loads(event), size)
    return held


def _json(text: str | None, empty: Any) -> Any:
    return json.loads(text) if text else empty


def _span_of(row: sqlite3.Row) -> SpanIn:
    """A stored span as the SpanIn that would store it again (trace-level facts aside, which
    write_spans only ever adds to)."""
    return SpanIn(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        name=row["name"],
        start_ns=row["start_ns"],
        parent_span_id=row["parent_span_id"],
        end_ns=row["end_ns"],
        span_type=row["span_type"],
        kind=row["kind"],
        status_code=row["status_code"],
        status_message=row["status_message"],
        inputs_json=row["inputs"],
        outputs_json=row["outputs"],
        inputs_source=row["inputs_source"],
        outputs_source=row["outputs_source"],
        model=row["model"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        total_tokens=row["total_tokens"],
        cost=row["cost"],
        tool_name=row["tool_name"],
        attributes=_json(row["attributes"], {}),
        events=_json(row["events"], []),
        links=_json(row["links"], []),
        resource=_json(row["resource"], {}),
        scope=_json(row["scope"], {}),
    )
