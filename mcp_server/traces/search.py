"""GetTraceInfo, SearchTraces and CountTraces: traces as wholes, never their span content.

Both answers that show a trace come from one mapping (`_present`), which cuts every text that
came from the wire (name, ids, previews, tags, metadata, assessment names) to its limit, with a
notice, so no trace's content can push an answer over its cap.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    answer_chars,
    check_range,
    clip,
    clip_field,
    dumps,
    issue_token,
    next_page_notice,
    read_token,
    state_int,
)
from mcp_server.tooling.timestamps import iso_time, ms
from store import Database
from store import search as store_search
from store.errors import InvalidArgument, InvalidPageToken
from store.ids import normalize_trace_id
from store.ingest import PREVIEW_CHARS
from store.records import AssessmentCount, TraceRecord
from store.traces import get_trace, get_traces

TOOL = "SearchTraces"
TEXT_CHARS = 300
"""GetTraceInfo's name, session_id, user_id and service_name are cut to this many characters."""
KEY_CHARS = 200
VALUE_CHARS = 500
"""Tag and metadata keys and values are cut to these lengths."""
MAP_CHARS = 5_000
"""Characters (as JSON) of tags (and, separately, of metadata) one GetTraceInfo answer holds."""
MAX_ASSESSMENT_ROWS = 50
ASSESSMENT_CHARS = 3_000
"""Characters (as JSON) of the assessment summary in one GetTraceInfo answer."""
INFO_ANSWER_CHARS = 20_000
"""GetTraceInfo never exceeds this: 4 texts + 2 previews + 2 maps + assessments + fixed fields."""

SUMMARY_NAME_CHARS = 200
SUMMARY_PREVIEW_CHARS = 200
SUMMARY_TAGS = 10
SUMMARY_TAG_VALUE_CHARS = 100
MAX_SEARCH_RESULTS = 500
SEARCH_ANSWER_CHARS = 40_000
"""Size cap of a SearchTraces answer; a page holds fewer traces rather than exceed it."""

GET_TRACE_INFO_DESCRIPTION = """\
Overview of one trace: status, times, span/error counts, tokens, cost, request and response
previews, tags, metadata, assessments, root span id. Start every investigation here.
Example: GetTraceInfo(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")"""

SEARCH_TRACES_DESCRIPTION = """\
Find traces: compact summaries, newest first. Use it to pick traces; CountTraces for a number.
filter_string: <field> <op> <value> joined with AND/OR, parentheses. Fields: trace.status
(OK|ERROR|IN_PROGRESS), trace.name, trace.session_id, trace.user_id, trace.timestamp_ms,
trace.execution_time_ms, trace.span_count, trace.error_count, trace.total_tokens, trace.cost,
trace.text (LIKE/ILIKE over span content, word-based), tag.<key>, metadata.<key>, span.name,
span.type, span.status, span.attributes.<key>, feedback.<name>, expectation.<name>; `backquote`
keys with dots. Ops: = != < <= > >= LIKE ILIKE IN ('a','b') IS [NOT] NULL. A bad filter's error
shows the full grammar. order_by=["execution_time_ms DESC"].
Example: SearchTraces(filter_string="trace.status = 'ERROR' AND tag.env = 'prod'", max_results=20)"""

COUNT_TRACES_DESCRIPTION = """\
Count the traces matching filter_string, without listing them.
Example: CountTraces(filter_string="trace.status = 'ERROR'")"""


class TraceInfo(BaseModel):
    """Everything about a trace except its spans."""

    trace_id: str
    name: str | None
    status: str
    start_time: str | None
    end_time: str | None
    duration_ms: float | None
    root_span_id: str | None = Field(description="None while the root span has not arrived.")
    span_count: int
    error_count: int
    input_tokens: int | None = Field(description="None when no model span reports token counts (unknown, not 0).")
    output_tokens: int | None
    total_tokens: int | None
    cost: float | None = Field(description="USD; None when no model span reports a cost (unknown, not 0).")
    session_id: str | None
    user_id: str | None
    service_name: str | None
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str]
    metadata: dict[str, str]
    assessments: list[AssessmentCount]
    notices: list[str] = Field(default_factory=list)


class TraceSummary(BaseModel):
    """A trace in a search result."""

    trace_id: str
    name: str | None
    status: str
    start_time: str | None
    duration_ms: float | None
    span_count: int
    error_count: int
    total_tokens: int | None = Field(description="None when no model span reports token counts.")
    cost: float | None = Field(description="USD; None when unknown.")
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str]
    notices: list[str] = Field(default_factory=list, description="What of this trace's text was cut.")


class TraceSearchResult(BaseModel):
    """A page of traces matching a filter."""

    traces: list[TraceSummary]
    next_page_token: str | None = None
    notice: str | None = None


class TraceCount(BaseModel):
    """How many traces match a filter."""

    count: int
    filter_string: str | None


def get_trace_info(db: Database, trace_id: str) -> TraceInfo:
    """The trace's overview, bounded to INFO_ANSWER_CHARS whatever its wire text holds."""
    record = get_trace(db, normalize_trace_id(trace_id))
    return _present(record, TraceInfo, _INFO)


def summarize(record: TraceRecord) -> TraceSummary:
    """The compact form SearchTraces lists."""
    return _present(record, TraceSummary, _SUMMARY)


class _Shape(NamedTuple):
    """How much of a trace's wire text one kind of answer shows."""

    text_chars: int
    preview_chars: int
    preview_notice: bool
    tag_value_chars: int
    map_chars: int
    max_entries: int
    see_all: str


_INFO = _Shape(
    TEXT_CHARS, PREVIEW_CHARS, True, VALUE_CHARS, MAP_CHARS, 1_000_000,
    f"GetTraceInfo shows at most {MAP_CHARS:,} characters of each",
)  # fmt: skip
_SUMMARY = _Shape(
    SUMMARY_NAME_CHARS, SUMMARY_PREVIEW_CHARS, False, SUMMARY_TAG_VALUE_CHARS, MAP_CHARS, SUMMARY_TAGS,
    "GetTraceInfo shows more",
)  # fmt: skip

Answer = TypeVar("Answer", TraceInfo, TraceSummary)


def _present(record: TraceRecord, model: type[Answer], shape: _Shape) -> Answer:
    """`record` as `model` (TraceInfo or TraceSummary): the fields the model has, every wire text
    cut to the shape's limits, with a notice per cut."""
    shown = model.model_fields
    notices: list[str] = []
    values: dict[str, Any] = {
        "trace_id": record.trace_id,
        "status": record.status,
        "start_time": iso_time(record.start_ns),
        "end_time": iso_time(record.end_ns),
        "duration_ms": ms(record.duration_ns),
        "root_span_id": record.root_span_id,
        "span_count": record.span_count,
        "error_count": record.error_count,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "total_tokens": record.total_tokens,
        "cost": record.cost,
    }
    for name in ("name", "session_id", "user_id", "service_name"):
        if name in shown:
            values[name] = clip_field(name, getattr(record, name), shape.text_chars, notices)
    for name in ("request_preview", "response_preview"):
        text: str | None = getattr(record, name)
        values[name] = None if text is None else clip(text, shape.preview_chars)
        if shape.preview_notice and text is not None and (values[name] != text or len(text) >= PREVIEW_CHARS):
            notices.append(
                f"{name} is cut to {shape.preview_chars:,} characters; GetRootSpan returns the root's payload in "
                "full (GetSpan a model span's, where the root has no question or answer)."
            )
    for name in ("tags", "metadata"):
        if name in shown:
            values[name] = _bounded_map(getattr(record, name), name, shape, notices)
    if "assessments" in shown:
        values["assessments"] = _assessments(record.assessments, notices)
    if "root_span_id" in shown and record.root_span_id is None:
        notices.append("the root span has not arrived yet; ListSpans shows the spans that have.")
    return model(**{name: value for name, value in values.items() if name in shown}, notices=notices)


def _bounded_map(values: dict[str, str], what: str, shape: _Shape, notices: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    room = shape.map_chars
    cut = 0
    for key, value in values.items():
        if len(out) >= shape.max_entries:
            break
        shown_key, shown_value = clip(key, KEY_CHARS), clip(value, shape.tag_value_chars)
        room -= len(dumps(shown_key)) + len(dumps(shown_value)) + 2
        if room < 0:
            break
        cut += shown_key != key or shown_value != value
        out[shown_key] = shown_value
    if len(out) < len(values):
        notices.append(f"showing {len(out)} of {len(values):,} {what} (in key order); {shape.see_all}.")
    if cut:
        notices.append(
            f"{cut} {what} are cut (keys to {KEY_CHARS} characters, values to {shape.tag_value_chars})."
        )
    return out


def _assessments(counts: list[AssessmentCount], notices: list[str]) -> list[AssessmentCount]:
    page: Page[AssessmentCount] = Page(ASSESSMENT_CHARS, MAX_ASSESSMENT_ROWS)
    for count in counts:
        if not page.offer(count.model_copy(update={"name": clip(count.name, KEY_CHARS), "kind": clip(count.kind, 40)})):
            break
    if len(page.items) < len(counts):
        notices.append(f"showing {len(page.items)} of {len(counts):,} assessment names.")
    return page.items


def search_traces(
    db: Database,
    *,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> TraceSearchResult:
    """A page of trace summaries matching `filter_string`, in `order_by` order.

    Pages continue strictly after the last trace of the previous page (keyset, not an offset), so
    traces written while a client pages never shift a page: none is listed twice or skipped; one
    written ahead of the page's position shows up only in a new search."""
    check_range("max_results", max_results, 1, MAX_SEARCH_RESULTS)
    arguments = {"filter_string": filter_string, "order_by": order_by, "max_results": max_results}
    state = read_token(page_token, TOOL, arguments)
    after, shown_before = _position(state)
    try:
        # One row beyond the page tells whether another page exists.
        rows = store_search.search_trace_page(db, filter_string, order_by, max_results + 1, after)
    except InvalidArgument as exc:
        if after is None:
            raise
        raise InvalidPageToken(f"page_token is damaged; call {TOOL} without page_token to start again.") from exc
    positions = dict(rows[:max_results])
    page: Page[TraceSummary] = Page(SEARCH_ANSWER_CHARS - ENVELOPE_RESERVE, max_results)
    for record in get_traces(db, list(positions)):
        if not page.offer(summarize(record)):
            break
    traces = page.items
    more = len(rows) > max_results or len(traces) < len(positions)
    while True:
        # The token carries the last trace's sort keys; long ones could outgrow the reserve.
        answer = _search_page(traces, positions, more, arguments, shown_before)
        if len(traces) <= 1 or answer_chars(answer) <= SEARCH_ANSWER_CHARS:
            return answer
        traces = traces[:-1]
        more = True


def _position(state: dict[str, Any] | None) -> tuple[tuple[Any, ...] | None, int]:
    if state is None:
        return None, 0
    after = state.get("after")
    if not isinstance(after, list) or not all(_is_key(value) for value in after):
        raise InvalidPageToken(f"page_token is damaged; call {TOOL} without page_token to start again.")
    return tuple(after), state_int(state, "shown", TOOL)


def _is_key(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _search_page(
    traces: list[TraceSummary],
    positions: dict[str, tuple[Any, ...]],
    more: bool,
    arguments: dict[str, Any],
    shown_before: int,
) -> TraceSearchResult:
    if not (more and traces):
        return TraceSearchResult(traces=traces)
    shown = shown_before + len(traces)
    state = {"after": list(positions[traces[-1].trace_id]), "shown": shown}
    token = issue_token(TOOL, arguments, state)
    notice = next_page_notice(TOOL, "traces", shown_before + 1, shown, None, token, " (CountTraces gives the total)")
    return TraceSearchResult(traces=traces, next_page_token=token, notice=notice)


def count_traces(db: Database, *, filter_string: str | None = None) -> TraceCount:
    """How many traces match `filter_string` (all traces when it is None)."""
    return TraceCount(count=store_search.count_traces(db, filter_string), filter_string=filter_string)
