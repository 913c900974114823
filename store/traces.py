"""Reading traces: whether the store holds them, one summary by id, or many at once for a page of search results."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from store.connection import Database
from store.errors import InvalidArgument, TraceNotFound
from store.ids import normalize_trace_id
from store.records import AssessmentCount, TraceRecord

_TRACE_COLUMNS = (
    "trace_id, name, start_ns, end_ns, status, root_span_id, session_id, user_id, service_name, "
    "span_count, error_count, input_tokens, output_tokens, total_tokens, cost, request_preview, "
    "response_preview"
)


def trace_exists(db: Database, trace_id: str) -> bool:
    """Whether the store holds a trace with this (normalized) id."""
    row = db.reader().execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
    return row is not None


def known_trace_ids(
    db: Database,
    trace_ids: Iterable[object],
    *,
    limit: int | None = None,
    too_many: Callable[[int], str] | None = None,
) -> list[str]:
    """`trace_ids` as the store holds them: normalized (InvalidId for a malformed one), each once in
    the order first given. More than `limit` of them raise InvalidArgument with `too_many(count)`
    before the store is read; then TraceNotFound for the first the store does not hold."""
    ids = list(dict.fromkeys(normalize_trace_id(t) for t in trace_ids))
    if limit is not None and len(ids) > limit:
        raise InvalidArgument(too_many(len(ids)) if too_many else f"{len(ids):,} trace_ids; the limit is {limit:,}.")
    if ids:
        # One statement for the whole list rather than one per id: a list may hold 10,000.
        rows = db.reader().execute(
            "SELECT trace_id FROM traces WHERE trace_id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        )
        found = {row[0] for row in rows}
        for trace_id in ids:
            if trace_id not in found:
                raise TraceNotFound(trace_id)
    return ids


def get_trace(db: Database, trace_id: str) -> TraceRecord:
    """The trace's summary row with tags, metadata and assessment counts; raises TraceNotFound."""
    records = get_traces(db, [trace_id])
    if not records:
        raise TraceNotFound(trace_id)
    return records[0]


def get_traces(db: Database, trace_ids: Sequence[str]) -> list[TraceRecord]:
    """Summaries for many traces in four statements, in the order of `trace_ids`; ids the store
    does not hold are left out."""
    if not trace_ids:
        return []
    conn = db.reader()
    ids_json = json.dumps(list(trace_ids))
    rows = conn.execute(
        f"SELECT {_TRACE_COLUMNS} FROM traces WHERE trace_id IN (SELECT value FROM json_each(?))",
        (ids_json,),
    ).fetchall()
    by_id: dict[str, dict[str, object]] = {row["trace_id"]: dict(row) for row in rows}
    for record in by_id.values():
        record.update(tags={}, metadata={}, assessments=[])
    for table, key in (("trace_tags", "tags"), ("trace_metadata", "metadata")):
        for row in _key_values(conn, table, ids_json):
            by_id[row["trace_id"]][key][row["key"]] = row["value"]  # type: ignore[index]
    for row in conn.execute(
        "SELECT trace_id, name, kind, count(*) AS n FROM assessments "
        "WHERE valid = 1 AND trace_id IN (SELECT value FROM json_each(?)) "
        "GROUP BY trace_id, name, kind ORDER BY trace_id, name, kind",
        (ids_json,),
    ):
        by_id[row["trace_id"]]["assessments"].append(  # type: ignore[union-attr]
            AssessmentCount(name=row["name"], kind=row["kind"], count=row["n"])
        )
    return [TraceRecord.model_validate(by_id[t]) for t in dict.fromkeys(trace_ids) if t in by_id]


def _key_values(conn: sqlite3.Connection, table: str, ids_json: str) -> list[sqlite3.Row]:
    # `table` is one of two literals chosen above, never input.
    return conn.execute(
        f"SELECT trace_id, key, value FROM {table} "
        "WHERE trace_id IN (SELECT value FROM json_each(?)) ORDER BY trace_id, key",
        (ids_json,),
    ).fetchall()
