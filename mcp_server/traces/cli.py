"""The span-level read commands: `span` (GetSpan, GetRootSpan), `grep` (SearchTraceRegex) and
`timing` (GetSpanTimingReport), the steps of reading one trace after `traces` and `show`, so an
agent driving the CLI reaches what an MCP client does; --json prints the tool's answer."""

from __future__ import annotations

import argparse
import json

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, page_token_option, print_answer, print_json
from store.errors import InvalidArgument


def _content_json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _next_page(token: str | None, what: str) -> None:
    """The last line of a page with a next one, as every paged command ends (print_next_page)."""
    from mcp_server.terminal.tables import output_console, print_next_page

    print_next_page(output_console(), token, what)


def cmd_span(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.terminal.tables import terminal_text
    from mcp_server.traces.span_content import get_root_span, get_span

    if (args.span_id is None) == (not args.root):
        raise InvalidArgument("name a span_id, or pass --root for the trace's root span (not both).")
    options = {"attributes_to_fetch": args.attribute, "max_content_length": args.max_content_length,
               "page_token": args.page_token}  # fmt: skip
    with database(settings) as db:
        if args.root:
            span = get_root_span(db, args.trace_id, **options)
        else:
            span = get_span(db, args.trace_id, args.span_id, **options)

    def show(span) -> None:  # a SpanDetail
        print(terminal_text(f"{span.name}  {span.span_type}  {span.span_id}  {span.status}  {span.duration_ms} ms"))
        if span.status_message:
            print(terminal_text(f"status message: {span.status_message}"))
        for field in ("inputs", "outputs", "attributes", "events"):
            value = getattr(span, field)
            if value not in (None, {}, []):
                print(f"{field}:\n{terminal_text(_content_json(value))}")
        _next_page(span.next_page_token, "of this span's content")

    print_answer(args, span, show)
    return 0


def cmd_grep(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.terminal.tables import terminal_text
    from mcp_server.traces.regex_search import search_trace_regex

    with database(settings) as db:
        result = search_trace_regex(db, args.trace_id, args.pattern, max_matches=args.max_matches,
                                    surrounding_content_length=args.context, page_token=args.page_token)  # fmt: skip

    def show(result) -> None:  # a RegexSearchResult
        print(f"{result.total_matches} match(es) in {result.spans_with_matches} span(s)")
        for m in result.matches:
            print(terminal_text(f"{m.span_id} {m.span_name} {m.field}: …{m.before}[{m.match}]{m.after}…"))
        _next_page(result.next_page_token, "matches")

    print_answer(args, result, show)
    return 0


def cmd_timing(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.terminal.tables import terminal_text
    from mcp_server.traces.timing_report import get_span_timing_report

    with database(settings) as db:
        report = get_span_timing_report(db, args.trace_id, max_results=args.limit)

    def show(report) -> None:  # a SpanTimingReport
        print(f"{report.trace_duration_ms:,.0f} ms, {report.span_count} spans; critical path:")
        for s in report.critical_path:
            print(terminal_text(f"  +{s.start_offset_ms:,.0f} ms  {s.duration_ms:,.0f} ms (self {s.self_time_ms:,.0f})  "
                                f"{s.name}  {s.span_id}"))
        print("slowest by self time:")
        for s in report.slowest_by_self_time:
            print(terminal_text(f"  {s.self_time_ms:,.0f} ms  {s.name}  {s.span_type}  {s.span_id}"))
        for notice in report.notices:
            print(terminal_text(notice))

    print_answer(args, report, show)
    return 0


def register_trace_commands(sub: argparse._SubParsersAction, add_command: AddCommand) -> None:
    """Add `traces`, `show`, `span`, `grep` and `timing` to the top-level subparsers `sub`."""
    traces = add_command(sub, "traces", cmd_traces, "List and search traces (MLflow filter syntax).")
    traces.add_argument("filter", nargs="?", default=None, help="e.g. \"trace.status = 'ERROR'\"")
    traces.add_argument("--order-by", action="append", default=None, help="e.g. 'timestamp_ms DESC' (repeatable)")
    traces.add_argument("--limit", type=int, default=20, help="how many traces to show (default 20)")
    page_token_option(traces, "SearchTraces")
    json_option(traces, "SearchTraces")
    show = add_command(sub, "show", cmd_show, "Show one trace: its summary and span tree.")
    show.add_argument("trace_id")
    show.add_argument("--max-spans", type=int, default=200, help="spans of the tree to show (default 200)")
    page_token_option(show, "ListSpans")
    show.add_argument(
        "--json", action="store_true",
        help='print {"trace": what GetTraceInfo answers, "spans": what ListSpans answers}, for scripts and coding agents',
    )  # fmt: skip
    span = add_command(sub, "span", cmd_span, "Show one span's content: inputs, outputs, attributes, events.")
    span.add_argument("trace_id")
    span.add_argument("span_id", nargs="?", default=None, help="the span (from `show`); omit it with --root")
    span.add_argument("--root", action="store_true", help="the trace's root span: its request and response")
    span.add_argument("--attribute", action="append", default=None, metavar="KEY",
                      help="only this attribute (repeatable; default: all)")  # fmt: skip
    span.add_argument("--max-content-length", type=int, default=20_000, help="characters per page (default 20,000)")
    page_token_option(span, "GetSpan")
    json_option(span, "GetSpan")
    grep = add_command(sub, "grep", cmd_grep, "Search one trace's span text with a regular expression (RE2).")
    grep.add_argument("trace_id")
    grep.add_argument("pattern", help="e.g. '(?i)timeout|refund'")
    grep.add_argument("--max-matches", type=int, default=50, help="matches per page (default 50)")
    grep.add_argument("--context", type=int, default=100, help="characters shown around each match (default 100)")
    page_token_option(grep, "SearchTraceRegex")
    json_option(grep, "SearchTraceRegex")
    timing = add_command(sub, "timing", cmd_timing, "Show where a trace's time went: critical path, slowest spans.")
    timing.add_argument("trace_id")
    timing.add_argument("--limit", type=int, default=20, help="spans per list (default 20)")
    json_option(timing, "GetSpanTimingReport")


def cmd_traces(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.traces.cli_format import print_traces
    from mcp_server.traces.search import search_traces

    with database(settings) as db:
        page = search_traces(
            db, filter_string=args.filter, order_by=args.order_by, max_results=args.limit, page_token=args.page_token
        )
    if args.json:
        print_json(page)
    else:
        print_traces(page)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.traces.cli_format import print_trace
    from mcp_server.traces.search import get_trace_info
    from mcp_server.traces.spans import list_spans

    with database(settings) as db:
        info = get_trace_info(db, args.trace_id)
        spans = list_spans(db, args.trace_id, max_results=args.max_spans, page_token=args.page_token)
    if args.json:
        print_json({"trace": info, "spans": spans})
    else:
        print_trace(info, spans)
    return 0
