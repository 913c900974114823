"""ListSpans: the skeleton of a trace in tree order, a page at a time, without span content."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_server.tools.paging import (
    ENVELOPE_RESERVE,
    check_range,
    clip,
    issue_token,
    item_chars,
    read_token,
    state_int,
)
from mcp_server.tools.patterns import compile_pattern
from mcp_server.tools.timestamps import ms
from store import Database
from store.errors import InvalidArgument
from store.ids import normalize_trace_id
from store.ingest import SPAN_TYPES
from store.spans import list_span_tree

TOOL = "ListSpans"
MAX_RESULTS = 1_000
"""Largest max_results accepted."""
ANSWER_CHARS = 40_000
"""Size cap of one answer; a page holds fewer spans than max_results rather than exceed it."""
NAME_CHARS = 200
"""Span names are cut to this many characters in the listing (GetSpan has the full name)."""

DESCRIPTION = """\
List the spans of one trace as a compact tree: span_id, parent_span_id, name, span_type, status,
start_offset_ms (from the trace's start), duration_ms, depth, child_count and content_chars (how
much text GetSpan would return), without any span content. Use it right after GetTraceInfo to see
the structure of a trace and pick span_ids for GetSpan; use SearchTraceRegex instead to find spans
by what their content says.

Order: depth first from the root, children by start time. A span whose parent has not arrived
(yet) is shown as a root with orphan=true.

max_results: spans per page, 1 to 1,000 (default 100). page_token: next_page_token of the
previous page (same other arguments). span_type: only spans of this type (AGENT, LLM, CHAT_MODEL,
TOOL, RETRIEVER, CHAIN, EMBEDDING, RERANKER, ...). name_pattern: only spans whose name matches
this RE2 regular expression anywhere in the name (e.g. "^tool_" or "(?i)search"). Filtered spans
keep tree order and their real depth; total_matching counts all spans that pass the filters.

Example: ListSpans(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_type="TOOL", max_results=50)"""


class SpanSummary(BaseModel):
    """One span in the listing."""

    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    status: str
    start_offset_ms: float
    duration_ms: float | None
    depth: int
    child_count: int
    content_chars: int
    orphan: bool = Field(False, description="Its parent is not in the trace (yet); shown as a root.")


class SpanList(BaseModel):
    """A page of a trace's spans in tree order."""

    trace_id: str
    total_spans: int = Field(description="Spans in the trace.")
    total_matching: int = Field(description="Spans passing span_type and name_pattern.")
    offset: int = Field(description="Position of this page's first span among the matching spans.")
    spans: list[SpanSummary]
    next_page_token: str | None = None
    notice: str | None = None


def list_spans(
    db: Database,
    trace_id: str,
    *,
    max_results: int = 100,
    page_token: str | None = None,
    span_type: str | None = None,
    name_pattern: str | None = None,
) -> SpanList:
    """A page of the trace's span skeleton in tree order, optionally filtered."""
    trace_id = normalize_trace_id(trace_id)
    check_range("max_results", max_results, 1, MAX_RESULTS)
    wanted_type = None
    if span_type is not None:
        wanted_type = span_type.strip().upper()
        if wanted_type not in SPAN_TYPES:
            raise InvalidArgument(
                f"span_type {span_type!r} is not a span type; use one of {', '.join(sorted(SPAN_TYPES))}, "
                "or leave it out."
            )
    regex = compile_pattern(name_pattern, "name_pattern") if name_pattern is not None else None
    arguments = {
        "trace_id": trace_id,
        "max_results": max_results,
        "span_type": wanted_type,
        "name_pattern": name_pattern,
    }
    state = read_token(page_token, TOOL, arguments)
    offset = 0 if state is None else state_int(state, "offset", TOOL)

    nodes = list_span_tree(db, trace_id)
    trace_start = min((node.start_ns for node in nodes), default=0)
    matching = [
        node
        for node in nodes
        if (wanted_type is None or node.span_type == wanted_type)
        and (regex is None or regex.search(node.name) is not None)
    ]
    budget = ANSWER_CHARS - ENVELOPE_RESERVE
    page: list[SpanSummary] = []
    for node in matching[offset : offset + max_results]:
        item = SpanSummary(
            span_id=node.span_id,
            parent_span_id=node.parent_span_id,
            name=clip(node.name, NAME_CHARS),
            span_type=node.span_type,
            status=node.status_code,
            start_offset_ms=ms(node.start_ns - trace_start) or 0.0,
            duration_ms=ms(node.end_ns - node.start_ns) if node.end_ns is not None else None,
            depth=node.depth,
            child_count=node.child_count,
            content_chars=node.content_chars,
            orphan=node.orphan,
        )
        budget -= item_chars(item)
        if budget < 0 and page:
            break
        page.append(item)

    end = offset + len(page)
    token = issue_token(TOOL, arguments, {"offset": end}) if end < len(matching) else None
    notice = None
    if token is not None:
        notice = (
            f"showing spans {offset + 1:,} to {end:,} of {len(matching):,} in tree order; call {TOOL} "
            f"again with the same arguments and page_token='{token}' for the next spans."
        )
    elif offset > len(matching):
        notice = f"the page_token points past the last of the {len(matching):,} spans."
    return SpanList(
        trace_id=trace_id,
        total_spans=len(nodes),
        total_matching=len(matching),
        offset=offset,
        spans=page,
        next_page_token=token,
        notice=notice,
    )
