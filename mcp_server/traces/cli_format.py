"""How the trace commands (traces, show) print for a person: the list of traces and one trace's overview with its span tree."""

from __future__ import annotations

from rich.text import Text
from rich.tree import Tree

from mcp_server.terminal.tables import (
    PREVIEW_CHARS,
    Column,
    output_console,
    preview_text,
    print_listing,
    print_next_page,
    safe_text,
    to_the_second,
)
from mcp_server.traces.search import TraceInfo, TraceSearchResult
from mcp_server.traces.spans import SpanList

_STATUS_STYLE = {"ERROR": "bold red", "OK": "green", "IN_PROGRESS": "yellow", "UNSET": "dim"}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _status(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


_TRACE_COLUMNS = (
    Column("trace_id"),
    Column("status"),
    Column("duration", justify="right", drop=2),
    Column("name", fit="line", drop=3),
    Column("start (UTC)", drop=6),
    Column("spans", justify="right", drop=5),
    Column("errors", justify="right", drop=4),
    Column("tokens", justify="right", drop=5),
    Column("request", fit="line", drop=1),
)


def print_traces(result: TraceSearchResult) -> None:
    rows = [
        (
            trace.trace_id,
            _status(trace.status),
            _ms(trace.duration_ms),
            trace.name or "-",
            to_the_second(trace.start_time),
            str(trace.span_count),
            str(trace.error_count),
            "-" if trace.total_tokens is None else f"{trace.total_tokens:,}",
            preview_text(trace.request_preview),
        )
        for trace in result.traces
    ]
    print_listing(_TRACE_COLUMNS, rows, empty="no traces match.", next_page_token=result.next_page_token,
                  more="traces match")  # fmt: skip


def print_trace(info: TraceInfo, spans: SpanList) -> None:
    console = output_console()
    console.print(Text.assemble((info.name or "(no root span yet)", "bold"), "  ", info.trace_id, "  ", _status(info.status)))
    console.print(
        f"{info.start_time or '-'}  {_ms(info.duration_ms)}  {info.span_count} spans, "
        f"{info.error_count} errors, "
        + ("tokens unknown" if info.total_tokens is None else f"{info.total_tokens:,} tokens")
        + (", cost unknown" if info.cost is None else f", cost {info.cost:.4f}")
    )
    for label, value in (("session", info.session_id), ("user", info.user_id), ("service", info.service_name)):
        if value:
            console.print(f"{label}: {value}", markup=False)
    if info.tags:
        console.print("tags: " + ", ".join(f"{k}={v}" for k, v in info.tags.items()), markup=False)
    for label, preview in (("request", info.request_preview), ("response", info.response_preview)):
        if preview:
            console.print(Text.assemble((f"{label}: ", "dim"), preview_text(preview)[:PREVIEW_CHARS]))
    tree = Tree(f"[bold]spans[/] ({spans.total_spans})")
    parents: list[Tree] = [tree]
    for span in spans.spans:
        del parents[span.depth + 1 :]
        label = Text.assemble(
            span.name, "  ", (f"{span.span_type} {span.span_id} +{span.start_offset_ms:,.0f} ms {_ms(span.duration_ms)}", "dim")
        )
        if span.status == "ERROR":
            label.append_text(Text.assemble("  ", _status("ERROR")))
        # A tree's labels are inside it, out of the reach of the console's own escaping.
        node = parents[min(span.depth, len(parents) - 1)].add(safe_text(label))
        parents.append(node)
    console.print(tree, soft_wrap=False)  # a long label wraps in the tree instead of being cropped
    print_next_page(console, spans.next_page_token, f"spans (showing {len(spans.spans)} of {spans.total_matching})")
