"""GetTraceInfo, SearchTraces and CountTraces: traces as wholes, never their span content."""

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
from mcp_server.tools.timestamps import iso_time, ms
from store import Database
from store import search as store_search
from store.ids import normalize_trace_id
from store.records import AssessmentCount, TraceRecord
from store.traces import get_trace, get_traces

PREVIEW_CHARS = 1_000
"""GetTraceInfo's request/response previews (the store keeps this many characters)."""
KEY_CHARS = 200
VALUE_CHARS = 500
"""Tag and metadata keys and values are cut to these lengths."""
MAP_CHARS = 6_000
"""Characters of tags (and, separately, of metadata) one GetTraceInfo answer holds."""
MAX_ASSESSMENT_ROWS = 50
INFO_ANSWER_CHARS = 20_000
"""GetTraceInfo never exceeds this: 2 previews + 2 maps + 50 assessment rows + fixed fields."""

SUMMARY_PREVIEW_CHARS = 200
SUMMARY_TAGS = 10
SUMMARY_TAG_VALUE_CHARS = 100
MAX_SEARCH_RESULTS = 500
SEARCH_ANSWER_CHARS = 40_000
"""Size cap of a SearchTraces answer; a page holds fewer traces rather than exceed it."""

GET_TRACE_INFO_DESCRIPTION = """\
Overview of one trace: name, status, start/end time and duration_ms, span and error counts, token
totals and cost, previews of the request and the response, tags, metadata, a summary of its
assessments (feedback and expectations by name), session and user ids, and the root span id.
Start every investigation of a trace here; then ListSpans for its structure, SearchTraceRegex to
find text in it, GetSpan to read a span. Previews are cut to 1,000 characters (GetRootSpan has
the full request and response); tag and metadata values to 500.

Example: GetTraceInfo(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")"""

SEARCH_TRACES_DESCRIPTION = """\
Find traces in the store: compact summaries (trace_id, name, status, start_time, duration_ms, span
and error counts, total tokens, 200-character request/response previews, up to 10 tags), newest
first unless order_by says otherwise. Use it to pick traces to investigate; use CountTraces for
just the number, SearchTraceRegex to search text inside one trace.

filter_string: an MLflow-style filter, e.g. filter_string="trace.status = 'ERROR'" or
filter_string="tags.env = 'prod' AND trace.execution_time_ms > 1000" (the error message for a bad
filter shows the grammar). order_by: e.g. order_by=["execution_time_ms DESC"] (ties, and the
default, newest first: timestamp_ms DESC). max_results: traces per page, 1 to 500 (default 100).
page_token: next_page_token of the previous page (same other arguments).

Example: SearchTraces(filter_string="trace.status = 'ERROR'", max_results=20)"""

COUNT_TRACES_DESCRIPTION = """\
Count the traces matching a filter (all traces without one), without listing them. Use it to size
a question ("how many failed today?") before paging through SearchTraces. filter_string has the
same grammar as in SearchTraces.

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
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float
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
    total_tokens: int
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str]


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
    """The trace's overview, bounded to INFO_ANSWER_CHARS whatever its tags and metadata hold."""
    record = get_trace(db, normalize_trace_id(trace_id))
    notices: list[str] = []
    tags = _bounded_map(record.tags, "tags", notices)
    metadata = _bounded_map(record.metadata, "metadata", notices)
    assessments = record.assessments[:MAX_ASSESSMENT_ROWS]
    if len(record.assessments) > MAX_ASSESSMENT_ROWS:
        notices.append(f"showing {MAX_ASSESSMENT_ROWS} of {len(record.assessments):,} assessment names.")
    for which, text in (("request_preview", record.request_preview), ("response_preview", record.response_preview)):
        if text is not None and len(text) >= PREVIEW_CHARS:
            notices.append(f"{which} is cut to {PREVIEW_CHARS:,} characters; GetRootSpan returns it in full.")
    if record.root_span_id is None:
        notices.append("the root span has not arrived yet; ListSpans shows the spans that have.")
    return TraceInfo(
        trace_id=record.trace_id,
        name=record.name,
        status=record.status,
        start_time=iso_time(record.start_ns),
        end_time=iso_time(record.end_ns),
        duration_ms=ms(record.duration_ns),
        root_span_id=record.root_span_id,
        span_count=record.span_count,
        error_count=record.error_count,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        total_tokens=record.total_tokens,
        cost=record.cost,
        session_id=record.session_id,
        user_id=record.user_id,
        service_name=record.service_name,
        request_preview=_cut(record.request_preview, PREVIEW_CHARS),
        response_preview=_cut(record.response_preview, PREVIEW_CHARS),
        tags=tags,
        metadata=metadata,
        assessments=assessments,
        notices=notices,
    )


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else clip(text, limit)


def _bounded_map(values: dict[str, str], what: str, notices: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    room = MAP_CHARS
    cut_values = 0
    for key, value in values.items():
        shown_key, shown_value = clip(key, KEY_CHARS), clip(value, VALUE_CHARS)
        cut_values += shown_value != value
        room -= len(shown_key) + len(shown_value) + 6
        if room < 0:
            break
        out[shown_key] = shown_value
    if len(out) < len(values):
        notices.append(
            f"showing {len(out)} of {len(values):,} {what} (in key order); GetTraceInfo shows at most "
            f"{MAP_CHARS:,} characters of {what}."
        )
    if cut_values:
        notices.append(f"{cut_values} {what} values are cut to {VALUE_CHARS} characters.")
    return out


def summarize(record: TraceRecord) -> TraceSummary:
    """The compact form SearchTraces lists."""
    tags = {
        clip(key, KEY_CHARS): clip(value, SUMMARY_TAG_VALUE_CHARS)
        for key, value in list(record.tags.items())[:SUMMARY_TAGS]
    }
    return TraceSummary(
        trace_id=record.trace_id,
        name=_cut(record.name, KEY_CHARS),
        status=record.status,
        start_time=iso_time(record.start_ns),
        duration_ms=ms(record.duration_ns),
        span_count=record.span_count,
        error_count=record.error_count,
        total_tokens=record.total_tokens,
        request_preview=_cut(record.request_preview, SUMMARY_PREVIEW_CHARS),
        response_preview=_cut(record.response_preview, SUMMARY_PREVIEW_CHARS),
        tags=tags,
    )


def search_traces(
    db: Database,
    *,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> TraceSearchResult:
    """A page of trace summaries matching `filter_string`, in `order_by` order."""
    check_range("max_results", max_results, 1, MAX_SEARCH_RESULTS)
    arguments = {"filter_string": filter_string, "order_by": order_by, "max_results": max_results}
    state = read_token(page_token, "SearchTraces", arguments)
    offset = 0 if state is None else state_int(state, "offset", "SearchTraces")
    # One id beyond the page tells whether another page exists.
    ids = store_search.search_trace_ids(db, filter_string, order_by, max_results + 1, offset)
    budget = SEARCH_ANSWER_CHARS - ENVELOPE_RESERVE
    page: list[TraceSummary] = []
    for record in get_traces(db, ids[:max_results]):
        summary = summarize(record)
        budget -= item_chars(summary)
        if budget < 0 and page:
            break
        page.append(summary)
    end = offset + len(page)
    more = len(ids) > max_results or len(page) < min(len(ids), max_results)
    token = issue_token("SearchTraces", arguments, {"offset": end}) if more and page else None
    notice = None
    if token is not None:
        notice = (
            f"showing traces {offset + 1:,} to {end:,}; call SearchTraces again with the same "
            f"arguments and page_token='{token}' for more (CountTraces gives the total)."
        )
    return TraceSearchResult(traces=page, next_page_token=token, notice=notice)


def count_traces(db: Database, *, filter_string: str | None = None) -> TraceCount:
    """How many traces match `filter_string` (all traces when it is None)."""
    return TraceCount(count=store_search.count_traces(db, filter_string), filter_string=filter_string)
