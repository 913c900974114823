"""ListSpans: the skeleton of a trace in tree order, a page at a time, without span content.

Pages of one listing read the tree as it was at the first page (the spans stored by then) and
each continues after the last span the previous one returned, so spans arriving while a client
pages are never listed twice nor shift a page; a new listing shows them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    check_range,
    clip,
    issue_token,
    next_page_notice,
    read_token,
    state_int,
)
from mcp_server.tooling.timestamps import ms
from mcp_server.traces.patterns import compile_pattern
from store import Database
from store.errors import InvalidArgument, InvalidPageToken
from store.ids import normalize_trace_id
from store.incoming import SPAN_TYPES
from store.records import SpanNode
from store.spans import count_spans_after, list_span_tree

TOOL = "ListSpans"
MAX_RESULTS = 1_000
"""Largest max_results accepted."""
ANSWER_CHARS = 40_000
"""Size cap of one answer; a page holds fewer spans than max_results rather than exceed it."""
NAME_CHARS = 200
"""Span names are cut to this many characters in the listing (GetSpan has the full name)."""

DESCRIPTION = """\
The span tree of one trace without content (span_id, parent, name, type, status, timing, depth,
content_chars), depth first; pick span_ids for GetSpan here.
Example: ListSpans(trace_id="4bf92f35...", span_type="TOOL")"""


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
    up_to_row = None if state is None else state_int(state, "upto", TOOL)
    nodes = list_span_tree(db, trace_id, up_to_row=up_to_row)
    if up_to_row is None:
        up_to_row = max((node.row_id for node in nodes), default=0)
    trace_start = min((node.start_ns for node in nodes), default=0)
    matching = [
        node
        for node in nodes
        if (wanted_type is None or node.span_type == wanted_type)
        and (regex is None or regex.search(node.name) is not None)
    ]
    offset = 0 if state is None else _resume(state, matching)
    page: Page[SpanSummary] = Page(ANSWER_CHARS - ENVELOPE_RESERVE, max_results)
    for node in matching[offset:]:
        if not page.offer(_summary(node, trace_start)):
            break
    end = offset + len(page.items)
    token = None
    parts: list[str] = []
    if state is not None and (arrived := count_spans_after(db, trace_id, up_to_row)):
        parts.append(
            f"{arrived:,} spans arrived after the first page and are not in these pages; call {TOOL} "
            "without page_token to list the trace as it is now."
        )
    if end < len(matching):
        last = page.items[-1].span_id
        token = issue_token(TOOL, arguments, {"upto": up_to_row, "after": last, "pos": end})
        parts.append(next_page_notice(TOOL, "spans", offset + 1, end, len(matching), token, " in tree order"))
    return SpanList(
        trace_id=trace_id,
        total_spans=len(nodes),
        total_matching=len(matching),
        offset=offset,
        spans=page.items,
        next_page_token=token,
        notice=" ".join(parts) or None,
    )


def _resume(state: dict[str, object], matching: list[SpanNode]) -> int:
    """Where the next page starts: right after the span the previous page ended with, found again
    in the tree; at its old position if it has left the listing (re-sent with another type)."""
    after = state.get("after")
    if not isinstance(after, str):
        raise InvalidPageToken(f"page_token is damaged; call {TOOL} without page_token to start again.")
    for index, node in enumerate(matching):
        if node.span_id == after:
            return index + 1
    return min(state_int(state, "pos", TOOL), len(matching))


def _summary(node: SpanNode, trace_start: int) -> SpanSummary:
    return SpanSummary(
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
