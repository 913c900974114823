"""How the judge, evaluate and runs commands show their results: rich tables, and the progress
bar evaluate draws on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from mcp_server.cli_format import output_console
from mcp_server.evaluation.reports import EvaluationRunReport, RunComparison
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.judges.definition import OutputType
from mcp_server.judges.tool_service import JudgeInfo, JudgeList, RunResult

PROGRESS_MESSAGE_CHARS = 60


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "[green]true[/]" if value else "[red]false[/]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _bound(value: float) -> str:
    return f"{value:g}"


def _output(output: OutputType) -> str:
    if output.kind == "categorical":
        return "one of " + ", ".join(output.categories or [])
    low, high = output.minimum, output.maximum
    if low is not None and high is not None:
        return f"{output.kind} in [{_bound(low)}, {_bound(high)}]"
    if low is not None:
        return f"{output.kind} >= {_bound(low)}"
    if high is not None:
        return f"{output.kind} <= {_bound(high)}"
    return output.kind


def print_judges(judges: JudgeList) -> None:
    console = output_console()
    table = Table(title="judges")
    for column in ("name", "version", "kind", "output", "model", "description"):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "version", "kind"))
    for info in [*judges.judges, *judges.builtin_judges]:
        version = "built-in" if info.builtin else str(info.version)
        table.add_row(info.name, version, info.kind, _output(info.output), info.model or "-", info.description or "-")
    console.print(table)
    console.print(f"{judges.total} stored judge(s), {len(judges.builtin_judges)} built-in")
    if judges.next_page_token:
        console.print("[dim]more stored judges; raise --limit to see them.[/]")


def print_judge(info: JudgeInfo) -> None:
    console = output_console()
    version = "built-in" if info.builtin else f"version {info.version}"
    console.print(f"[bold]{info.name}[/]  {version}  {info.kind} judge")
    console.print(f"output: {_output(info.output)}")
    console.print(f"model: {info.model or '(the default judge model)'}")
    if info.description:
        console.print(f"description: {info.description}")
    if info.parameters:
        console.print("parameters: " + ", ".join(f"{k}={v}" for k, v in info.parameters.items()))
    if info.instructions:
        console.print("[dim]instructions:[/]", markup=True)
        console.print(info.instructions, markup=False)


def print_verdict(result: RunResult) -> None:
    console = output_console()
    verdict = result.verdict
    console.print(f"[bold]{verdict.judge}[/] on {verdict.trace_id}: {_value(verdict.value)}")
    if verdict.error:
        console.print(f"[red]error:[/] {verdict.error}")
    if verdict.rationale:
        console.print(f"[dim]rationale:[/] {verdict.rationale}")
    if verdict.findings:
        table = Table(title="findings")
        for column in ("span_id", "category", "impact", "evidence"):
            table.add_column(column, overflow="fold", no_wrap=column == "span_id")
        for f in verdict.findings:
            table.add_row(f.span_id, f.category, f.impact or "-", f.evidence)
        console.print(table)
    if verdict.assessment_id:
        console.print(f"[dim]logged as feedback '{result.feedback_name}' ({verdict.assessment_id})[/]")


@contextmanager
def progress_bar(label: str = "evaluating") -> Iterator[Any]:
    """A transient bar on stderr; yields a progress(done, total, message) callback."""
    columns = (
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[message]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None, message="")

        def report(done: int, total: int, message: str) -> None:
            progress.update(task, completed=done, total=total, message=message[:PROGRESS_MESSAGE_CHARS])

        yield report


def _metrics_table(metrics: dict[str, float | int | None]) -> Table:
    # Metrics are named '<judge>/<metric>': one row per judge, one column per metric.
    by_judge: dict[str, dict[str, float | int | None]] = {}
    for key, value in metrics.items():
        judge, _, metric = key.rpartition("/")
        by_judge.setdefault(judge, {})[metric] = value
    columns = list(dict.fromkeys(m for values in by_judge.values() for m in values))
    table = Table(title="metrics")
    table.add_column("judge", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right")
    for judge, values in by_judge.items():
        table.add_row(judge, *(_value(values.get(c)) for c in columns))
    return table


def _run_summary(console: Console, run: EvaluationRun) -> None:
    style = {"completed": "green", "stopped": "yellow"}.get(run.status, "")
    title = f"  {run.name}" if run.name else ""
    console.print(f"[bold]{run.run_id}[/]{title}  [{style}]{run.status}[/]")
    console.print(
        f"{run.trace_count} traces x {len(run.judges)} judges: {run.pairs_done}/{run.pairs_total} judged, "
        f"{run.errors} errors, {run.total_tokens:,} tokens, cost {run.cost_usd:.4f} USD, {run.duration_s:.1f} s"
    )
    if run.filter_string:
        console.print(f"[dim]filter:[/] {run.filter_string}")
    if run.dataset is not None:
        prompts = f"  prompts {', '.join(run.prompts)}" if run.prompts else ""
        console.print(
            f"[dim]dataset:[/] {run.dataset} v{run.dataset_version} ({run.record_count} records)  "
            f"[dim]target:[/] {run.target}  {run.target_errors} target errors{prompts}"
        )
    if run.stop_reason:
        console.print(f"[yellow]stopped:[/] {run.stop_reason}")


def print_evaluation_run(run: EvaluationRun) -> None:
    console = output_console()
    _run_summary(console, run)
    console.print(_metrics_table(run.metrics))


def print_run_report(report: EvaluationRunReport) -> None:
    console = output_console()
    _run_summary(console, report.run)
    console.print(_metrics_table(report.run.metrics))
    for judge, errors in report.errors_by_judge.items():
        for e in errors:
            console.print(f"[red]{judge}[/] {e['trace_id']}: {e['error']}")
    if not report.results:
        console.print("no results to show.")
        return
    table = Table(title="results")
    for column in ("judge", "trace_id", "value", "error", "tokens", "cost", "latency"):
        table.add_column(column, overflow="fold", no_wrap=column in ("judge", "trace_id"))
    for r in report.results:
        latency = "-" if r.latency_s is None else f"{r.latency_s:.2f} s"
        table.add_row(r.judge, r.trace_id, _value(r.value), r.error or "", f"{r.tokens:,}", f"{r.cost_usd:.4f}", latency)
    console.print(table)
    if report.next_page_token:
        console.print("[dim]more results; raise --limit to see them.[/]")


def print_comparison(comparison: RunComparison) -> None:
    console = output_console()
    for label, brief in (("A", comparison.run_a), ("B", comparison.run_b)):
        name = f" {brief.name}" if brief.name else ""
        console.print(
            f"{label}: [bold]{brief.run_id}[/]{name}  {brief.status}, {brief.pairs_done} judged, "
            f"{brief.errors} errors, {brief.total_tokens:,} tokens, cost {brief.cost_usd:.4f} USD"
        )
    table = Table(title="metrics")
    for column in ("metric", "A", "B", "delta"):
        table.add_column(column, justify="left" if column == "metric" else "right", no_wrap=True)
    for m in comparison.metrics:
        delta = "-" if m.delta is None else f"{m.delta:+.4g}"
        table.add_row(m.metric, _value(m.a), _value(m.b), delta)
    console.print(table)
    changed = sum(comparison.changed_count.values())
    if not changed:
        console.print("no verdict changed between the runs.")
        return
    table = Table(title=f"changed verdicts ({changed})")
    # Runs on a dataset judge different traces of the same records: show the record.
    key = "record_id" if any(c.record_id for c in comparison.changed) else "trace_id"
    for column in ("judge", key, "A", "B"):
        table.add_column(column, overflow="fold", no_wrap=column in ("judge", key))
    for c in comparison.changed:
        table.add_row(c.judge, getattr(c, key) or c.trace_id, c.error_a or _value(c.a), c.error_b or _value(c.b))
    console.print(table)
    if comparison.next_page_token:
        console.print("[dim]more changed verdicts; raise --limit to see them.[/]")
