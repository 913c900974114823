"""The trace tools as plain typed functions: the MCP server and the CLI both call these.

Each takes the Database first and returns a pydantic answer that fits the tool's size budget;
each raises store.errors.TraceJudgeError subclasses for input it cannot serve.
"""

from mcp_server.traces.regex_search import RegexSearchResult, search_trace_regex
from mcp_server.traces.search import (
    TraceCount,
    TraceInfo,
    TraceSearchResult,
    count_traces,
    get_trace_info,
    search_traces,
)
from mcp_server.traces.span_content import SpanDetail, get_root_span, get_span
from mcp_server.traces.spans import SpanList, list_spans
from mcp_server.traces.timing_report import SpanTimingReport, get_span_timing_report

__all__ = [
    "RegexSearchResult",
    "SpanDetail",
    "SpanList",
    "SpanTimingReport",
    "TraceCount",
    "TraceInfo",
    "TraceSearchResult",
    "count_traces",
    "get_root_span",
    "get_span",
    "get_span_timing_report",
    "get_trace_info",
    "list_spans",
    "search_trace_regex",
    "search_traces",
]
