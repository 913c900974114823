"""How the CLI shows results to a person at a terminal: rich tables and trees, nothing else."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from mcp_server.importer import ImportReport
from mcp_server.tools.spans import SpanList
from mcp_server.tools.traces import TraceInfo, TraceSearchResult

MAX_REJECTIONS_SHOWN = 10

_STATUS_STYLE = {"ERROR": "bold red", "OK": "green", "IN_PROGRESS": "yellow", "UNSET": "dim"}


def output_console() -> Console:
    """The console for a command's results (stdout)."""
    # Wide enough that ids are never wrapped when output goes to a file or a pipe.
    return Console(width=None if Console().is_terminal else 200, highlight=False)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, '')}]{status}[/]"


def print_traces(result: TraceSearchResult) -> None:
    console = output_console()
    if not result.traces:
        console.print("no traces match.")
        return
    table = Table(show_lines=False)
    for column in ("trace_id", "name", "status", "start", "duration", "spans", "errors", "tokens", "request"):
        table.add_column(column, overflow="fold" if column == "request" else "ellipsis", no_wrap=column != "request")
    for trace in result.traces:
        table.add_row(
            trace.trace_id,
            trace.name or "-",
            _status(trace.status),
            trace.start_time or "-",
            _ms(trace.duration_ms),
            str(trace.span_count),
            str(trace.error_count),
            "-" if trace.total_tokens is None else f"{trace.total_tokens:,}",
            (trace.request_preview or "")[:80],
        )
    console.print(table)
    if result.next_page_token:
        console.print("[dim]more traces match; raise --limit to see them.[/]")


def print_trace(info: TraceInfo, spans: SpanList) -> None:
    console = output_console()
    console.print(f"[bold]{info.name or '(no root span yet)'}[/]  {info.trace_id}  {_status(info.status)}")
    console.print(
        f"{info.start_time or '-'}  {_ms(info.duration_ms)}  {info.span_count} spans, "
        f"{info.error_count} errors, "
        + ("tokens unknown" if info.total_tokens is None else f"{info.total_tokens:,} tokens")
        + (", cost unknown" if info.cost is None else f", cost {info.cost:.4f}")
    )
    for label, value in (("session", info.session_id), ("user", info.user_id), ("service", info.service_name)):
        if value:
            console.print(f"{label}: {value}")
    if info.tags:
        console.print("tags: " + ", ".join(f"{k}={v}" for k, v in info.tags.items()))
    if info.request_preview:
        console.print(f"[dim]request:[/] {info.request_preview[:300]}")
    if info.response_preview:
        console.print(f"[dim]response:[/] {info.response_preview[:300]}")
    tree = Tree(f"[bold]spans[/] ({spans.total_spans})")
    parents: list[Tree] = [tree]
    for span in spans.spans:
        del parents[span.depth + 1 :]
        label = (
            f"{span.name}  [dim]{span.span_type} {span.span_id} +{span.start_offset_ms:,.0f} ms "
            f"{_ms(span.duration_ms)}[/]"
        )
        if span.status == "ERROR":
            label += f"  {_status('ERROR')}"
        node = parents[min(span.depth, len(parents) - 1)].add(label)
        parents.append(node)
    console.print(tree)
    if spans.next_page_token:
        console.print(f"[dim]showing {len(spans.spans)} of {spans.total_matching} spans; raise --max-spans to see more.[/]")


def print_import_report(report: ImportReport) -> int:
    """Print what each file gave; returns the exit code (1 when a file failed or spans were rejected)."""
    console = output_console()
    for file in report.files:
        if file.error:
            console.print(f"[red]{file.path}: {file.error}[/]")
            continue
        line = f"{file.path}: {file.spans_written:,} spans ({file.format})"
        if file.rejected:
            line += f", [red]{file.spans_rejected:,} rejected[/]"
        console.print(line)
        for message in file.rejected[:MAX_REJECTIONS_SHOWN]:
            console.print(f"  [red]rejected:[/] {message}")
        if file.spans_rejected > MAX_REJECTIONS_SHOWN:
            console.print(f"  ... and {file.spans_rejected - MAX_REJECTIONS_SHOWN} more")
        for note in file.notes:
            console.print(f"  [dim]{note}[/]")
    console.print(f"imported {report.spans_written:,} spans from {len(report.files) - len(report.failed_files)} file(s)")
    return 1 if report.failed_files or report.spans_rejected else 0
