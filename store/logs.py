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

Waiting is bounded, since a client could send logs for spans that never come: at most max_bytes
of records wait (records past it are refused, and the caller reports them to the client), and a
record that has waited ttl_s is deleted, with a warning in the server log naming its traces.
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
from store.ingest import SpanIn, write_spans
from store.json_text import dumps

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
DEFAULT_PENDING_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class LogIn:
    """One log record, decoded, for the span it names: `event` is its span-event form, marked
    with LOG_MARKER."""

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
    """One message per record refused because max_bytes of records already wait."""
    expired: int = 0
    """Records deleted by this write because they had waited longer than ttl_s."""


class PendingLogs:
    """The log records of spans: attached when their span is stored, kept waiting until then."""

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        ttl_s: float = DEFAULT_PENDING_TTL_S,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock

    def write(self, db: Database, logs: Sequence[LogIn]) -> LogsWritten:
        """Attach each record to its span if stored, else keep it waiting (within max_bytes)."""
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
            waiting_bytes = conn.execute("SELECT coalesce(sum(size), 0) FROM pending_logs").fetchone()[0]
            rows = []
            for log in logs:
                text = dumps(log.event)
                size = len(text.encode())
                if (log.trace_id, log.span_id) in stored:
                    result.attached += 1
                elif waiting_bytes + size > self.max_bytes:
                    result.refused.append(self._refusal(log, waiting_bytes))
                    continue
                else:
                    result.waiting += 1
                    waiting_bytes += size
                # Records for stored spans wait too, for the moment until write_spans below takes
                # them: if that write fails, they are attached by the span's next write instead.
                rows.append((log.trace_id, log.span_id, now, size, text))
            conn.executemany(
                "INSERT INTO pending_logs (trace_id, span_id, received_ns, size, event) VALUES (?, ?, ?, ?, ?)", rows
            )
        if stored:
            # A second transaction, since write_spans opens its own. The spans were read in the
            # first; one sent again with other content in between would lose that content, which
            # OTel does not do (an ended span is exported once, retried as it was).
            write_spans(db, [_span_of(row) for row in stored.values()])
        return result

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

    def _refusal(self, log: LogIn, waiting_bytes: int) -> str:
        return (
            f"log record {log.event.get('name')!r} for span {log.span_id} of trace {log.trace_id}: "
            f"{waiting_bytes:,} bytes of log records already wait for spans this server has not "
            f"received, the most it keeps ({self.max_bytes:,}, TRACEJUDGE_PENDING_LOGS_MAX_BYTES); "
            "export the spans too (their logs are attached when they arrive), or raise the limit"
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
