"""The trace-inspection tools (GetTraceInfo, ListSpans, GetSpan, GetRootSpan, SearchTraceRegex,
GetSpanTimingReport, SearchTraces, CountTraces) registered on an MCP server over one store.
Each tool is a thin wrapper: its signature is the tool's input schema, and its body calls the typed
function in this package through tooling.boundary.answer, which runs it in a worker thread (a tool may
read megabytes of a large trace, and the event loop must stay free for other clients)."""


from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from mcp_server import traces
from mcp_server.tooling.boundary import READ_ONLY, AttributeKeys, FilterString, PageToken, SpanId, TraceId, answer
from mcp_server.traces import patterns, regex_search, span_content, spans, timing_report
from mcp_server.traces import search as trace_tools
from store import Database

# The limits each description states are the constants the service functions check, so the two
# cannot drift apart.
MaxContentLength = Annotated[
    int,
    Field(
        description=f"Characters per page, {span_content.MIN_CONTENT_LENGTH:,} to {span_content.MAX_CONTENT_LENGTH:,}."
    ),
]


def add_trace_tools(server: MCPServer, db: Database) -> None:
    async def get_trace_info(trace_id: TraceId) -> Annotated[CallToolResult, traces.TraceInfo]:
        return await answer(traces.get_trace_info, db, trace_id)

    async def list_spans(
        trace_id: TraceId,
        max_results: Annotated[int, Field(description=f"1 to {spans.MAX_RESULTS:,}.")] = 100,
        page_token: PageToken = None,
        span_type: Annotated[str | None, Field(description="e.g. 'TOOL'.")] = None,
        name_pattern: Annotated[
            str | None, Field(description="RE2 regex on the name.")
        ] = None,
    ) -> Annotated[CallToolResult, traces.SpanList]:
        return await answer(
            traces.list_spans,
            db,
            trace_id,
            max_results=max_results,
            page_token=page_token,
            span_type=span_type,
            name_pattern=name_pattern,
        )

    async def get_span(
        trace_id: TraceId,
        span_id: SpanId,
        attributes_to_fetch: AttributeKeys = None,
        max_content_length: MaxContentLength = span_content.DEFAULT_CONTENT_LENGTH,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, traces.SpanDetail]:
        return await answer(
            traces.get_span,
            db,
            trace_id,
            span_id,
            attributes_to_fetch=attributes_to_fetch,
            max_content_length=max_content_length,
            page_token=page_token,
        )

    async def get_root_span(
        trace_id: TraceId,
        attributes_to_fetch: AttributeKeys = None,
        max_content_length: MaxContentLength = span_content.DEFAULT_CONTENT_LENGTH,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, traces.SpanDetail]:
        return await answer(
            traces.get_root_span,
            db,
            trace_id,
            attributes_to_fetch=attributes_to_fetch,
            max_content_length=max_content_length,
            page_token=page_token,
        )

    async def search_trace_regex(
        trace_id: TraceId,
        pattern: Annotated[str, Field(description=f"RE2, at most {patterns.MAX_PATTERN_CHARS:,} characters.")],
        max_matches: Annotated[int, Field(description=f"1 to {regex_search.MAX_MATCHES:,}.")] = 50,
        surrounding_content_length: Annotated[
            int, Field(description=f"Characters each side, 0 to {regex_search.MAX_SURROUNDING:,}.")
        ] = 100,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, traces.RegexSearchResult]:
        return await answer(
            traces.search_trace_regex,
            db,
            trace_id,
            pattern,
            max_matches=max_matches,
            surrounding_content_length=surrounding_content_length,
            page_token=page_token,
        )

    async def get_span_timing_report(
        trace_id: TraceId,
        max_results: Annotated[int, Field(description=f"Entries per list, 1 to {timing_report.MAX_RESULTS:,}.")] = 20,
    ) -> Annotated[CallToolResult, traces.SpanTimingReport]:
        return await answer(traces.get_span_timing_report, db, trace_id, max_results=max_results)

    async def search_traces(
        filter_string: FilterString = None,
        order_by: Annotated[
            list[str] | None, Field(description="e.g. order_by=['timestamp_ms DESC'].")
        ] = None,
        max_results: Annotated[int, Field(description=f"1 to {trace_tools.MAX_SEARCH_RESULTS:,}.")] = 100,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, traces.TraceSearchResult]:
        return await answer(
            traces.search_traces,
            db,
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    async def count_traces(filter_string: FilterString = None) -> Annotated[CallToolResult, traces.TraceCount]:
        return await answer(traces.count_traces, db, filter_string=filter_string)

    for name, fn, description in (
        ("GetTraceInfo", get_trace_info, trace_tools.GET_TRACE_INFO_DESCRIPTION),
        ("ListSpans", list_spans, spans.DESCRIPTION),
        ("GetSpan", get_span, span_content.GET_SPAN_DESCRIPTION),
        ("GetRootSpan", get_root_span, span_content.GET_ROOT_SPAN_DESCRIPTION),
        ("SearchTraceRegex", search_trace_regex, regex_search.DESCRIPTION),
        ("GetSpanTimingReport", get_span_timing_report, timing_report.DESCRIPTION),
        ("SearchTraces", search_traces, trace_tools.SEARCH_TRACES_DESCRIPTION),
        ("CountTraces", count_traces, trace_tools.COUNT_TRACES_DESCRIPTION),
    ):
        server.add_tool(fn, name=name, description=description, annotations=READ_ONLY, structured_output=True)
