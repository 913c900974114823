"""The write path: a batch of normalized spans becomes rows in one transaction.

Spans may arrive in any order and more than once. A span is keyed by (trace_id, span_id); sending
it again replaces it (last write wins) and `_totals` moves the trace totals by the difference
(what the batch adds minus what the spans it replaces had contributed), so a trace is consistent
after every batch without being re-read.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from store.connection import Database
from store.incoming import SpanIn
from store.json_text import dumps
from store.log_events import give_log_events


@dataclass(slots=True)
class WriteResult:
    spans_written: int
    traces_touched: int


_UPSERT_SPAN = """
INSERT INTO spans (
    trace_id, span_id, parent_span_id, name, span_type, kind, start_ns, end_ns, status_code,
    status_message, inputs, outputs, inputs_source, outputs_source, model, input_tokens,
    output_tokens, total_tokens, cost, tool_name, attributes, events, links, resource, scope,
    content_chars
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (trace_id, span_id) DO UPDATE SET
    parent_span_id = excluded.parent_span_id, name = excluded.name,
    span_type = excluded.span_type, kind = excluded.kind, start_ns = excluded.start_ns,
    end_ns = excluded.end_ns, status_code = excluded.status_code,
    status_message = excluded.status_message, inputs = excluded.inputs,
    outputs = excluded.outputs, inputs_source = excluded.inputs_source,
    outputs_source = excluded.outputs_source, model = excluded.model,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
    total_tokens = excluded.total_tokens, cost = excluded.cost, tool_name = excluded.tool_name,
    attributes = excluded.attributes, events = excluded.events, links = excluded.links,
    resource = excluded.resource, scope = excluded.scope, content_chars = excluded.content_chars
"""


def _json_or_none(value: dict[str, Any] | list[Any]) -> str | None:
    return dumps(value) if value else None


def encode_span(span: SpanIn) -> tuple[tuple[Any, ...], str]:
    """The span's row for _UPSERT_SPAN, and the text it contributes to the full-text index."""
    attributes = _json_or_none(span.attributes)
    events = _json_or_none(span.events)
    content_chars = (
        len(span.inputs_json or "")
        + len(span.outputs_json or "")
        + len(attributes or "")
        + len(events or "")
    )
    row = (
        span.trace_id, span.span_id, span.parent_span_id, span.name, span.span_type, span.kind,
        span.start_ns, span.end_ns, span.status_code, span.status_message, span.inputs_json,
        span.outputs_json, span.inputs_source, span.outputs_source, span.model, span.input_tokens,
        span.output_tokens, span.total_tokens, span.cost, span.tool_name, attributes, events,
        _json_or_none(span.links), _json_or_none(span.resource), _json_or_none(span.scope),
        content_chars,
    )  # fmt: skip
    return row, fts_text(span.name, span.inputs_json, span.outputs_json, attributes, events)


PREVIEW_CHARS = 1000
"""Length of the request/response previews kept on each trace row."""
PREVIEW_TYPES = frozenset({"LLM", "CHAT_MODEL"})
"""Model calls: the spans a trace's previews come from when its root holds no question or answer."""


def fts_text(name: str, *json_texts: str | None) -> str:
    """The text one span contributes to spans_fts: its name and its JSON columns (inputs, outputs,
    attributes, events). Insert and delete must give FTS5 the same text, so both use this.

    Stored JSON spells a newline as \\n, which would glue its "n" to the next word ("nrefund");
    those escapes are read as spaces. (Done here, not in SQL: measured, replace() in the
    statement cost 20 us a span, str.replace 2 us.)
    """
    text = " ".join([name, *(part for part in json_texts if part)])
    return text.replace("\\n", " ").replace("\\t", " ").replace("\\r", " ")


_COUNTED_TYPES = frozenset({"LLM", "CHAT_MODEL", "EMBEDDING"})
"""Tokens and cost count only on model spans: frameworks that also put the usage on the enclosing
call (Vercel AI SDK's ai.generateText around ai.generateText.doGenerate) would count it twice."""


def _usage(span_type: str, status_code: str, tokens: tuple[Any, Any, Any, Any]) -> list[float]:
    """What one span adds to its trace: 1 span, its error, its tokens and cost where it is a model
    span, and for each of those whether it reports it (a total of no reports is unknown, not 0)."""
    counted = span_type in _COUNTED_TYPES
    return [
        1,
        1 if status_code == "ERROR" else 0,
        *((value or 0) if counted else 0 for value in tokens),
        *(1 if counted and value is not None else 0 for value in tokens),
    ]


def write_spans(db: Database, spans: Sequence[SpanIn]) -> WriteResult:
    """Store a batch of spans in one transaction; returns how many spans and traces it touched.

    Set-based: per batch, one read of the spans being replaced, one executemany for the rows, one
    statement to keep the full-text index in step, and one keyed UPDATE per trace for its
    totals, computed here from the batch (minus what replaced spans had contributed). The caller
    validates spans first (see mcp_server.ingest.otlp): a failure here rolls the whole batch back.
    Every span takes, in the same transaction, the OTLP log records waiting for it and keeps
    the log events of the row it replaces (store.log_events), whichever path wrote it.
    """
    if not spans:
        return WriteResult(0, 0)
    # Within one batch the last copy of a span wins, as it would across batches.
    unique = list({(span.trace_id, span.span_id): span for span in spans}.values())
    encoded = [encode_span(span) for span in unique]
    by_trace: dict[str, list[SpanIn]] = {}
    for span in unique:
        by_trace.setdefault(span.trace_id, []).append(span)
    now = time.time_ns()
    with db.transaction() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO traces (trace_id, created_ns) VALUES (?, ?)",
            [(trace_id, now) for trace_id in by_trace],
        )
        replaced: list[sqlite3.Row] = []
        for trace_id, trace_spans in by_trace.items():
            replaced += conn.execute(
                "SELECT id, trace_id, span_id, span_type, status_code, input_tokens, output_tokens, "
                "total_tokens, cost, name, inputs, outputs, attributes, events FROM spans "
                "WHERE trace_id = ? AND span_id IN (SELECT value FROM json_each(?))",
                (trace_id, dumps([span.span_id for span in trace_spans])),
            ).fetchall()
        for i in give_log_events(conn, db.attach_events, unique, replaced):
            encoded[i] = encode_span(unique[i])
        last_id = conn.execute("SELECT coalesce(max(id), 0) FROM spans").fetchone()[0]
        _forget_indexed_text(conn, replaced)
        conn.executemany(_UPSERT_SPAN, [row for row, _ in encoded])
        _index_text(conn, unique, encoded, last_id, replaced)
        conn.executemany(_UPDATE_TOTALS, _totals(by_trace, replaced, now))
        roots = [span for span in unique if span.parent_span_id is None]
        if roots:
            conn.executemany(
                "UPDATE traces SET root_span_id = ?, name = ?, status = ? WHERE trace_id = ?",
                [
                    (root.span_id, root.name, "ERROR" if root.status_code == "ERROR" else "OK", root.trace_id)
                    for root in roots
                ],
            )
        conn.executemany(_UPDATE_PREVIEWS, _previews(by_trace))
        _write_trace_facts(conn, unique)
        _vote_span_metadata(conn, by_trace, {(r["trace_id"], r["span_id"]) for r in replaced})
    return WriteResult(spans_written=len(unique), traces_touched=len(by_trace))


def _forget_indexed_text(conn: sqlite3.Connection, replaced: list[sqlite3.Row]) -> None:
    """Remove replaced spans from spans_fts: a contentless FTS5 table forgets a row only when told
    the text it indexed."""
    if replaced:
        conn.executemany(
            "INSERT INTO spans_fts (spans_fts, rowid, body) VALUES ('delete', ?, ?)",
            [(r["id"], fts_text(r["name"], r["inputs"], r["outputs"], r["attributes"], r["events"])) for r in replaced],
        )


def _index_text(
    conn: sqlite3.Connection,
    spans: list[SpanIn],
    encoded: list[tuple[tuple[Any, ...], str]],
    last_id: int,
    replaced: list[sqlite3.Row],
) -> None:
    """Add the batch's text to spans_fts, keyed by spans.id.

    Holding the write lock, new rows took the ids after last_id in insertion order (checked);
    replaced rows kept theirs. New rows go in one statement: FTS5 tokenizing is most of the cost
    of a write, and the sqlite3 module releases the GIL for a statement's whole step, so another
    request decodes on the other core meanwhile (executemany would take the GIL back per row).
    """
    replaced_ids = {(r["trace_id"], r["span_id"]): r["id"] for r in replaced}
    if conn.execute("SELECT max(id) FROM spans").fetchone()[0] != last_id + len(spans) - len(replaced):
        raise RuntimeError("span ids were not assigned in insertion order; the batch is rolled back")
    new_texts: list[str] = []
    replaced_texts: list[tuple[int, str]] = []
    for span, (_, text) in zip(spans, encoded, strict=True):
        rowid = replaced_ids.get((span.trace_id, span.span_id))
        if rowid is None:
            new_texts.append(text)
        else:
            replaced_texts.append((rowid, text))
    conn.execute(
        "INSERT INTO spans_fts (rowid, body) SELECT ? + key, value FROM json_each(?)",
        (last_id + 1, dumps(new_texts)),
    )
    if replaced_texts:
        conn.executemany("INSERT INTO spans_fts (rowid, body) VALUES (?, ?)", replaced_texts)


_USAGE_COLUMNS = ("input_tokens", "output_tokens", "total_tokens", "cost")
# A total is NULL while no model span reports it (its `_known` count is 0); every right-hand side
# reads the row as it was before this statement, as SQL's UPDATE does.
_UPDATE_TOTALS = """
UPDATE traces SET
    start_ns = min(coalesce(start_ns, :start_ns), :start_ns),
    end_ns = max(coalesce(end_ns, :end_ns), coalesce(:end_ns, end_ns)),
    span_count = span_count + :spans, error_count = error_count + :errors, received_ns = :received_ns,
""" + ",\n".join(
    f"    {c} = CASE WHEN {c}_known + :{c}_known > 0 THEN coalesce({c}, 0) + :{c} END, "
    f"{c}_known = {c}_known + :{c}_known"
    for c in _USAGE_COLUMNS
) + """
WHERE trace_id = :trace_id
"""


def _totals(by_trace: dict[str, list[SpanIn]], replaced: list[sqlite3.Row], now: int) -> list[dict[str, Any]]:
    keys = ("spans", "errors", *_USAGE_COLUMNS, *(f"{c}_known" for c in _USAGE_COLUMNS))
    sums: dict[str, list[float]] = {}
    for trace_id, trace_spans in by_trace.items():
        total = [0.0] * len(keys)
        for span in trace_spans:
            usage = _usage(
                span.span_type,
                span.status_code,
                (span.input_tokens, span.output_tokens, span.total_tokens, span.cost),
            )
            total = [a + b for a, b in zip(total, usage, strict=True)]
        sums[trace_id] = total
    for row in replaced:
        old = _usage(
            row["span_type"],
            row["status_code"],
            (row["input_tokens"], row["output_tokens"], row["total_tokens"], row["cost"]),
        )
        sums[row["trace_id"]] = [a - b for a, b in zip(sums[row["trace_id"]], old, strict=True)]
    out = []
    for trace_id, total in sums.items():
        trace_spans = by_trace[trace_id]
        ends = [span.end_ns for span in trace_spans if span.end_ns is not None]
        params: dict[str, Any] = {key: int(v) if key != "cost" else v for key, v in zip(keys, total, strict=True)}
        params.update(
            trace_id=trace_id,
            received_ns=now,
            start_ns=min(span.start_ns for span in trace_spans),
            end_ns=max(ends) if ends else None,
        )
        out.append(params)
    return out


# A trace's preview is the candidate with the smallest key: "<rank>:<position>:<span id>". Rank 0
# is the root's text, 1 a model span's text, 2 the root's JSON payload, 3 a model span's JSON
# payload (a payload the conventions layer found no text in). Among model spans the request comes
# from the first to start, the response from the last to end (position is the time from the end of
# the representable range). The span id settles ties, and a span sent again keeps its key, so it
# replaces its own preview: the result does not depend on the order spans arrive in.
_UPDATE_PREVIEWS = "UPDATE traces SET " + ", ".join(
    f"{side}_preview = CASE WHEN :{side}_key < coalesce({side}_preview_key, '9') "
    f"OR :{side}_key = {side}_preview_key THEN :{side} ELSE {side}_preview END, "
    f"{side}_preview_key = CASE WHEN :{side}_key < coalesce({side}_preview_key, '9') "
    f"THEN :{side}_key ELSE {side}_preview_key END"
    for side in ("request", "response")
) + " WHERE trace_id = :trace_id"
_LAST_NS = 2**63 - 1


def _candidate(rank: int, text: str | None, json_text: str | None, position: int, span_id: str) -> tuple[str, str] | None:
    if text:
        return f"{rank}:{position:020d}:{span_id}", text[:PREVIEW_CHARS]
    if json_text:
        return f"{rank + 2}:{position:020d}:{span_id}", json_text[:PREVIEW_CHARS]
    return None


def _previews(by_trace: dict[str, list[SpanIn]]) -> list[dict[str, Any]]:
    """Per trace, the batch's best request and response preview candidates (see _UPDATE_PREVIEWS)."""
    out = []
    for trace_id, spans in by_trace.items():
        best: dict[str, tuple[str, str] | None] = {"request": None, "response": None}
        for span in spans:
            rank = 0 if span.parent_span_id is None else 1
            if rank and span.span_type not in PREVIEW_TYPES:
                continue
            end = span.end_ns if span.end_ns is not None else span.start_ns
            for side, found in (
                ("request", _candidate(rank, span.request_text, span.inputs_json, span.start_ns, span.span_id)),
                ("response", _candidate(rank, span.response_text, span.outputs_json, _LAST_NS - end, span.span_id)),
            ):
                if found is not None and (best[side] is None or found[0] <= best[side][0]):  # type: ignore[index]
                    best[side] = found
        if best["request"] or best["response"]:
            params: dict[str, Any] = {"trace_id": trace_id}
            for side, found in best.items():
                # No candidate: a key that never wins ('9' sorts after every rank).
                params[f"{side}_key"], params[side] = found or ("9", None)
            out.append(params)
    return out


def _write_trace_facts(conn: sqlite3.Connection, spans: list[SpanIn]) -> None:
    # Every span of a service carries service.name: one UPDATE per trace, not per span.
    facts: dict[str, list[str | None]] = {}
    for span in spans:
        if span.session_id or span.user_id or span.service_name:
            known = facts.setdefault(span.trace_id, [None, None, None])
            for i, value in enumerate((span.session_id, span.user_id, span.service_name)):
                known[i] = known[i] or value
    if facts:
        conn.executemany(
            "UPDATE traces SET session_id = coalesce(session_id, ?), "
            "user_id = coalesce(user_id, ?), service_name = coalesce(service_name, ?) "
            "WHERE trace_id = ?",
            [(*values, trace_id) for trace_id, values in facts.items()],
        )
    tags = [(span.trace_id, k, v) for span in spans for k, v in span.trace_tags.items()]
    if tags:
        conn.executemany(
            "INSERT INTO trace_tags (trace_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value",
            tags,
        )
    # Metadata is immutable: the first value stays, except over one derived from span votes.
    metadata = [(span.trace_id, k, v) for span in spans for k, v in span.trace_metadata.items()]
    metadata += [(span.trace_id, k, v) for span in spans if span.parent_span_id is None for k, v in span.span_metadata.items()]
    if metadata:
        conn.executemany(
            "INSERT INTO trace_metadata (trace_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value, from_spans = 0 "
            "WHERE trace_metadata.from_spans = 1",
            metadata,
        )


def _vote_span_metadata(
    conn: sqlite3.Connection, by_trace: dict[str, list[SpanIn]], replaced: set[tuple[str, str]]
) -> None:
    """Span-level metadata becomes the trace's for a key every span carrying such metadata gives
    one value: each span votes once (a span sent again only checks its values against the votes),
    and the derived trace_metadata rows of the traces touched are rebuilt from the votes."""
    voters: dict[str, int] = {}
    votes: dict[tuple[str, str], list[Any]] = {}
    for trace_id, spans in by_trace.items():
        for span in spans:
            if not span.span_metadata:
                continue
            new = (trace_id, span.span_id) not in replaced
            voters[trace_id] = voters.get(trace_id, 0) + new
            for key, value in span.span_metadata.items():
                vote = votes.setdefault((trace_id, key), [value, 0, 0])
                vote[1] += new
                vote[2] |= vote[0] != value
    if not votes:
        return
    conn.executemany(
        "INSERT INTO trace_metadata_votes (trace_id, key, value, spans, conflict) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (trace_id, key) DO UPDATE SET spans = spans + excluded.spans, "
        "conflict = conflict OR excluded.conflict OR value != excluded.value",
        [(trace_id, key, *vote) for (trace_id, key), vote in votes.items()],
    )
    conn.executemany(
        "UPDATE traces SET metadata_spans = metadata_spans + ? WHERE trace_id = ?",
        [(n, trace_id) for trace_id, n in voters.items()],
    )
    touched = dumps(list(voters))
    conn.execute(
        "DELETE FROM trace_metadata WHERE from_spans = 1 AND trace_id IN (SELECT value FROM json_each(?))",
        (touched,),
    )
    conn.execute(
        "INSERT OR IGNORE INTO trace_metadata (trace_id, key, value, from_spans) "
        "SELECT v.trace_id, v.key, v.value, 1 FROM trace_metadata_votes v JOIN traces t USING (trace_id) "
        "WHERE v.trace_id IN (SELECT value FROM json_each(?)) AND NOT v.conflict AND v.spans = t.metadata_spans",
        (touched,),
    )
