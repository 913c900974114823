"""What every span write does with log events: the spans of a batch take the log records waiting
for them (pending_logs, see store.logs) and keep the log events of the rows they replace.

write_spans calls `give_log_events` for every batch, whichever path wrote it (OTLP, `tracejudge
import`, the demo, Evaluate's target spans), so a span sent again never loses what its logs gave
it. Adding events is the Database's `attach_events`: the ingestion layer gives the store one that
also derives the span's inputs, outputs and texts from them (the store cannot import the
semantic conventions); without one, `add_events` only adds them.

This module imports nothing from store.ingest at run time (ingest imports it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from store.json_text import dumps

if TYPE_CHECKING:
    from store.incoming import SpanIn

LOG_MARKER = "log"
"""The key that marks a span event made from a log record (its value: the record's own fields)."""

Attach = Callable[["SpanIn", list[dict[str, Any]]], bool]
"""Adds log events to a span (skipping those it has) and derives what depends on them again;
returns whether the span changed."""


def event_key(event: dict[str, Any]) -> str:
    """What makes two events one (a record sent twice by an exporter's retry is one event)."""
    # Key order differs between a decoded record and one read back from the store.
    return json.dumps(event, sort_keys=True, default=str)


def add_events(span: SpanIn, events: list[dict[str, Any]]) -> bool:
    """Add to the span the events it lacks, in time order; returns whether it had any to add.
    The Attach of a store opened without the semantic conventions."""
    known = {event_key(event) for event in span.events}
    added = []
    for event in events:
        key = event_key(event)
        if key not in known:
            known.add(key)
            added.append(event)
    if not added:
        return False
    # Stable: events of one instant keep the order they were recorded in.
    span.events = sorted([*span.events, *added], key=lambda event: event.get("time_ns") or 0)
    return True


def log_events(events_json: str | None) -> list[dict[str, Any]]:
    """The events made from log records among a stored row's events."""
    # A substring test first: most rows have no log events, and parsing every row's events would
    # cost a re-sent batch more than the write.
    if not events_json or f'"{LOG_MARKER}":' not in events_json:
        return []
    return [e for e in json.loads(events_json) if isinstance(e, dict) and LOG_MARKER in e]


def give_log_events(
    conn: sqlite3.Connection, attach: Attach, spans: list[SpanIn], replaced: list[sqlite3.Row]
) -> list[int]:
    """Within write_spans' transaction, before the rows are written: give each span the log events
    of the row it replaces and the records waiting for it (deleting those from pending_logs).
    Returns the positions of the spans that changed, which must be encoded again."""
    events: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in replaced:
        carried = log_events(row["events"])
        if carried:
            events[(row["trace_id"], row["span_id"])] = carried
    for key, waiting in _take_waiting(conn, spans).items():
        events.setdefault(key, []).extend(waiting)
    if not events:
        return []
    return [
        i
        for i, span in enumerate(spans)
        if (found := events.get((span.trace_id, span.span_id))) and attach(span, found)
    ]


def _take_waiting(conn: sqlite3.Connection, spans: list[SpanIn]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Delete and return the records waiting for these spans, in the order they arrived."""
    # One cheap statement settles the usual case: nobody sends logs, nothing waits.
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM pending_logs)").fetchone()[0]:
        return {}
    by_trace: dict[str, list[str]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span.span_id)
    taken: list[tuple[int, str, str, str]] = []
    for trace_id, span_ids in by_trace.items():
        taken += conn.execute(
            "DELETE FROM pending_logs WHERE trace_id = ? AND span_id IN (SELECT value FROM json_each(?)) "
            "RETURNING id, trace_id, span_id, event",
            (trace_id, dumps(span_ids)),
        ).fetchall()
    waiting: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _, trace_id, span_id, event in sorted(tuple(row) for row in taken):
        waiting.setdefault((trace_id, span_id), []).append(json.loads(event))
    return waiting
