"""Reading spans: the skeleton of a trace in tree order, one span's full row, the root span,
chunked text for regex search, and timing rows.

Only `get_span` and `get_root_span` read content columns, and only for one span. The skeleton and
timing rows read the small columns, which come before the content in each row; regex search reads
content a bounded chunk of spans at a time, never the whole trace at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from store.connection import Database
from store.errors import RootSpanNotFound, SpanNotFound, TraceNotFound
from store.records import SEARCHED_FIELDS, SpanNode, SpanRecord, SpanText, SpanTiming
from store.traces import trace_exists

_SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, span_type, kind, start_ns, end_ns, status_code, "
    "status_message, inputs AS inputs_json, outputs AS outputs_json, inputs_source, "
    "outputs_source, model, input_tokens, output_tokens, total_tokens, cost, tool_name, "
    "attributes AS attributes_json, events AS events_json, links AS links_json, "
    "resource AS resource_json, scope AS scope_json, content_chars"
)

TEXT_CHUNK_SPANS = 128
"""Spans fetched per statement by `iter_span_texts`: bounds memory to this many spans' text."""


def get_span(db: Database, trace_id: str, span_id: str) -> SpanRecord:
    """One span's full row; raises SpanNotFound (or TraceNotFound when the trace is unknown)."""
    row = (
        db.reader()
        .execute(f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id = ? AND span_id = ?", (trace_id, span_id))
        .fetchone()
    )
    if row is None:
        if not trace_exists(db, trace_id):
            raise TraceNotFound(trace_id)
        raise SpanNotFound(trace_id, span_id)
    return SpanRecord.model_validate(dict(row))


def get_root_span(db: Database, trace_id: str) -> SpanRecord:
    """The trace's root span (the span with no parent); raises RootSpanNotFound while it has not
    arrived, TraceNotFound for an unknown trace."""
    row = (
        db.reader()
        .execute("SELECT root_span_id, span_count FROM traces WHERE trace_id = ?", (trace_id,))
        .fetchone()
    )
    if row is None:
        raise TraceNotFound(trace_id)
    if row["root_span_id"] is None:
        raise RootSpanNotFound(trace_id, row["span_count"])
    return get_span(db, trace_id, row["root_span_id"])


def list_span_tree(db: Database, trace_id: str, *, up_to_row: int | None = None) -> list[SpanNode]:
    """The trace's skeleton in tree order: depth first, siblings by start time (then id).

    Spans arrive in any order, so a span whose parent is not in the trace (yet) is shown as a
    root and flagged `orphan`; so is a span caught in a parent cycle, which would otherwise be
    unreachable. With `up_to_row`, only spans stored in rows up to it (see SpanNode.row_id): the
    tree as it was then, whatever arrived since, so pages of it fit together. Raises TraceNotFound
    for an unknown trace.
    """
    rows = (
        db.reader()
        .execute(
            "SELECT span_id, parent_span_id, name, span_type, status_code, start_ns, end_ns, "
            "content_chars, id FROM spans WHERE trace_id = ? AND id <= ?",
            (trace_id, up_to_row if up_to_row is not None else 2**63 - 1),
        )
        .fetchall()
    )
    if not rows and not trace_exists(db, trace_id):
        raise TraceNotFound(trace_id)
    by_id = {row[0]: tuple(row) for row in rows}
    children: dict[str, list[tuple]] = {}
    roots: list[tuple] = []
    for row in by_id.values():
        parent = row[1]
        if parent is not None and parent in by_id and parent != row[0]:
            children.setdefault(parent, []).append(row)
        else:
            roots.append(row)

    def order(row: tuple) -> tuple[int, str]:
        return (row[5], row[0])

    for siblings in children.values():
        siblings.sort(key=order, reverse=True)  # reversed: popped from the end of the stack
    out: list[SpanNode] = []
    visited: set[str] = set()

    def walk(start: list[tuple]) -> None:
        stack = [(row, 0) for row in sorted(start, key=order, reverse=True)]
        while stack:
            row, depth = stack.pop()
            if row[0] in visited:
                continue
            visited.add(row[0])
            kids = children.get(row[0], ())
            orphan = row[1] is not None and depth == 0
            out.append(SpanNode(*row[:8], depth=depth, child_count=len(kids), orphan=orphan, row_id=row[8]))
            stack.extend((kid, depth + 1) for kid in kids)

    walk(roots)
    if len(visited) < len(by_id):
        walk([row for span_id, row in by_id.items() if span_id not in visited])
    return out


def count_spans_after(db: Database, trace_id: str, row_id: int) -> int:
    """How many of the trace's spans are stored in rows after `row_id` (arrived since)."""
    row = db.reader().execute("SELECT count(*) FROM spans WHERE trace_id = ? AND id > ?", (trace_id, row_id)).fetchone()
    return int(row[0])


def list_span_timings(db: Database, trace_id: str) -> list[SpanTiming]:
    """(span_id, parent, name, type, start, end) for every span; raises TraceNotFound."""
    rows = (
        db.reader()
        .execute(
            "SELECT span_id, parent_span_id, name, span_type, start_ns, end_ns FROM spans WHERE trace_id = ?",
            (trace_id,),
        )
        .fetchall()
    )
    if not rows and not trace_exists(db, trace_id):
        raise TraceNotFound(trace_id)
    return [SpanTiming(*row) for row in rows]


_TEXT_COLUMNS = ", ".join(f"CAST({column} AS BLOB)" for column in SEARCHED_FIELDS)


def iter_span_texts(db: Database, trace_id: str, *, chunk_spans: int = TEXT_CHUNK_SPANS) -> Iterator[SpanText]:
    """Every span's searchable text (see SEARCHED_FIELDS), in storage order, fetched
    `chunk_spans` spans per statement so a 50 MB trace is never in memory at once.

    Storage order is stable: a span sent again keeps its row. Raises TraceNotFound at the call,
    not at the first iteration.
    """
    conn = db.reader()
    row_ids = [row[0] for row in conn.execute("SELECT id FROM spans WHERE trace_id = ? ORDER BY id", (trace_id,))]
    if not row_ids and not trace_exists(db, trace_id):
        raise TraceNotFound(trace_id)
    return _text_chunks(db, row_ids, chunk_spans)


def _text_chunks(db: Database, row_ids: list[int], chunk_spans: int) -> Iterator[SpanText]:
    conn = db.reader()
    for start in range(0, len(row_ids), chunk_spans):
        chunk = json.dumps(row_ids[start : start + chunk_spans])
        for row in conn.execute(
            f"SELECT id, span_id, name, {_TEXT_COLUMNS} FROM spans "
            "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (chunk,),
        ):
            yield SpanText(row[0], row[1], row[2], tuple(row[3:]))
