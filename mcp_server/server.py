"""The MCP server: `create_server(settings, db)` registers the tools over one store.

Each tool is a thin wrapper: its signature is the tool's input schema, and its body calls the
typed function in mcp_server.tools through tool_boundary.answer, which runs it in a worker thread
(a tool may read megabytes of a large trace, and the event loop must stay free for other clients)
and turns its result, or its expected error, into what the client reads.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from mcp_server import tools
from mcp_server.alignment_tools import add_alignment_tools
from mcp_server.assessment_tools import add_assessment_tools
from mcp_server.dataset_tools import add_dataset_tools
from mcp_server.evaluation_tools import add_evaluation_tools, add_run_listing_tool
from mcp_server.judge_tools import add_judge_tools
from mcp_server.labeling_tools import add_labeling_tools
from mcp_server.optimization_tools import add_optimization_tools
from mcp_server.prompt_tools import add_prompt_tools
from mcp_server.settings import Settings
from mcp_server.tool_boundary import (
    READ_ONLY,
    AttributeKeys,
    FilterString,
    MaxContentLength,
    PageToken,
    SpanId,
    TraceId,
    answer,
    compact_schemas,
    refuse_unknown_arguments,
)
from mcp_server.tools import regex_search, span_content, spans, timing_report
from mcp_server.tools import traces as trace_tools
from mcp_server.toolsets import select_tools
from store import Database

INSTRUCTIONS = """\
tracejudge holds OpenTelemetry traces of AI agents (one trace = one agent run, made of spans: LLM
calls, tool calls, retrievals ...) and lets you inspect traces of any size with bounded answers,
judge them, build datasets, evaluate and optimize prompts.

Investigating a trace: SearchTraces (or CountTraces) to find trace ids; GetTraceInfo for the
overview; ListSpans for the tree; SearchTraceRegex to find where a text occurs (span and field);
GetSpan or GetRootSpan to read a span; GetSpanTimingReport for latency. SearchTraceRegex searches
inputs, outputs, attributes and events as their JSON text (a newline is the two characters \\n);
`field` is the decoded path holding the match, e.g. "inputs.messages[0].content". filter_string
is MLflow's grammar (summary in SearchTraces; a bad filter's error shows it all).

Every answer has a size cap. When an answer is cut it says what was cut and returns
next_page_token: call the same tool again with the same arguments and page_token=<that token> to
continue. Tokens belong to the tool and arguments that issued them. A span field too long for a
page comes in `slices` (pieces of its JSON text with start and end); joined in order they give
the field. Ids: trace ids are 32 hex characters (base64 and 'tr-<hex>' are accepted too), span
ids 16; use them as the tools return them. An optional argument left out means: no filter (all),
no budget limit, the latest version, the server's default model."""

def _version() -> str:
    try:
        return version("tracejudge")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def create_server(settings: Settings, db: Database) -> MCPServer:
    """An MCP server named 'tracejudge' over `db` with the tools of `settings.toolsets` (all by
    default; with `settings.read_only` only those that neither write nor spend)."""
    server = MCPServer("tracejudge", instructions=INSTRUCTIONS, version=_version())
    _add_trace_tools(server, db)
    add_assessment_tools(server, db)
    add_judge_tools(server, db, settings)
    add_alignment_tools(server, db, settings)
    add_evaluation_tools(server, db, settings)
    add_run_listing_tool(server, db)
    add_dataset_tools(server, db, settings)
    add_prompt_tools(server, db, settings)
    add_labeling_tools(server, db, settings)
    add_optimization_tools(server, db, settings)
    refuse_unknown_arguments(server)
    compact_schemas(server)
    select_tools(server, settings.toolsets, read_only=settings.read_only)
    return server


def _add_trace_tools(server: MCPServer, db: Database) -> None:
    async def get_trace_info(trace_id: TraceId) -> Annotated[CallToolResult, tools.TraceInfo]:
        return await answer(tools.get_trace_info, db, trace_id)

    async def list_spans(
        trace_id: TraceId,
        max_results: Annotated[int, Field(description="1 to 1,000.")] = 100,
        page_token: PageToken = None,
        span_type: Annotated[str | None, Field(description="e.g. 'TOOL'.")] = None,
        name_pattern: Annotated[
            str | None, Field(description="RE2 regex on the name.")
        ] = None,
    ) -> Annotated[CallToolResult, tools.SpanList]:
        return await answer(
            tools.list_spans,
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
    ) -> Annotated[CallToolResult, tools.SpanDetail]:
        return await answer(
            tools.get_span,
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
    ) -> Annotated[CallToolResult, tools.SpanDetail]:
        return await answer(
            tools.get_root_span,
            db,
            trace_id,
            attributes_to_fetch=attributes_to_fetch,
            max_content_length=max_content_length,
            page_token=page_token,
        )

    async def search_trace_regex(
        trace_id: TraceId,
        pattern: Annotated[str, Field(description="RE2, at most 1,000 characters.")],
        max_matches: Annotated[int, Field(description="1 to 500.")] = 50,
        surrounding_content_length: Annotated[
            int, Field(description="Characters each side, 0 to 1,000.")
        ] = 100,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, tools.RegexSearchResult]:
        return await answer(
            tools.search_trace_regex,
            db,
            trace_id,
            pattern,
            max_matches=max_matches,
            surrounding_content_length=surrounding_content_length,
            page_token=page_token,
        )

    async def get_span_timing_report(
        trace_id: TraceId,
        max_results: Annotated[int, Field(description="Entries per list, 1 to 100.")] = 20,
    ) -> Annotated[CallToolResult, tools.SpanTimingReport]:
        return await answer(tools.get_span_timing_report, db, trace_id, max_results=max_results)

    async def search_traces(
        filter_string: FilterString = None,
        order_by: Annotated[
            list[str] | None, Field(description="e.g. order_by=['timestamp_ms DESC'].")
        ] = None,
        max_results: Annotated[int, Field(description="1 to 500.")] = 100,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, tools.TraceSearchResult]:
        return await answer(
            tools.search_traces,
            db,
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    async def count_traces(filter_string: FilterString = None) -> Annotated[CallToolResult, tools.TraceCount]:
        return await answer(tools.count_traces, db, filter_string=filter_string)

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
