"""How the evaluate and runs commands show their results: a run's summary and metrics, its results, the comparison of two runs, and the list of runs, as rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mcp_server.evaluation.listing import EvaluationRunList, RunSummary
from mcp_server.evaluation.reports import EvaluationRunReport, RunComparison
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.terminal.tables import Column, output_console, print_listing, print_table, to_the_second, value_text

_METRIC_DROP = {"count": 0, "pass_rate": 0, "mean": 0, "error_count": 1, "p50": 2, "p90": 2, "min": 3, "max": 3}
"""Which metrics a narrow terminal leaves out first (unknown ones before all of these)."""


def _print_metrics(console: Console, metrics: dict[str, float | int | None]) -> None:
    # Metrics are named '<judge>/<metric>': one row per judge, one column per metric.
    by_judge: dict[str, dict[str, float | int | None]] = {}
    for key, value in metrics.items():
        judge, _, metric = key.rpartition("/")
        by_judge.setdefault(judge, {})[metric] = value
    names = list(dict.fromkeys(m for values in by_judge.values() for m in values))
    columns = [Column("judge")] + [Column(m, justify="right", drop=_METRIC_DROP.get(m, 4)) for m in names]
    rows = [(judge, *(value_text(values.get(m)) for m in names)) for judge, values in by_judge.items()]
    print_table(console, columns, rows, title="metrics")


_RUN_STATUS_STYLE = {"completed": "green", "stopped": "yellow"}


def _run_status(status: str) -> Text:
    return Text(status, style=_RUN_STATUS_STYLE.get(status, ""))


def _run_summary(console: Console, run: EvaluationRun) -> None:
    title = f"  {run.name}" if run.name else ""
    console.print(Text.assemble((run.run_id, "bold"), title, "  ", _run_status(run.status)))
    console.print(
        f"{run.trace_count} traces x {len(run.judges)} judges: {run.pairs_done}/{run.pairs_total} judged, "
        f"{run.errors} errors, {run.total_tokens:,} tokens, cost {run.cost_usd:.4f} USD, {run.duration_s:.1f} s"
    )
    if run.filter_string:
        console.print(Text.assemble(("filter: ", "dim"), run.filter_string))
    if run.dataset is not None:
        prompts = f"  prompts {', '.join(run.prompts)}" if run.prompts else ""
        console.print(Text.assemble(
            ("dataset: ", "dim"), f"{run.dataset} v{run.dataset_version} ({run.record_count} records)  ",
            ("target: ", "dim"), f"{run.target}  {run.target_errors} target errors{prompts}",
        ))  # fmt: skip
    if run.stop_reason:
        console.print(Text.assemble(("stopped: ", "yellow"), run.stop_reason))
    if run.over_budget:
        console.print(Text.assemble(("over budget: ", "yellow"), run.over_budget))


def print_evaluation_run(run: EvaluationRun) -> None:
    console = output_console()
    _run_summary(console, run)
    _print_metrics(console, run.metrics)


_RESULT_COLUMNS = (
    Column("judge"), Column("trace_id"), Column("value", fit="line"), Column("error", fit="wrap"),
    Column("tokens", justify="right", drop=2), Column("cost", justify="right", drop=3),
    Column("latency", justify="right", drop=1),
)  # fmt: skip


def print_run_report(report: EvaluationRunReport) -> None:
    console = output_console()
    _run_summary(console, report.run)
    _print_metrics(console, report.run.metrics)
    for judge, errors in report.errors_by_judge.items():
        for e in errors:
            console.print(Text.assemble((judge, "red"), f" {e['trace_id']}: {e['error']}"))
    rows = [
        (r.judge, r.trace_id, value_text(r.value), r.error or "", f"{r.tokens:,}", f"{r.cost_usd:.4f}",
         "-" if r.latency_s is None else f"{r.latency_s:.2f} s")
        for r in report.results
    ]  # fmt: skip
    print_listing(_RESULT_COLUMNS, rows, title="results", empty="no results to show.", console=console,
                  next_page_token=report.next_page_token, more="results")  # fmt: skip


def print_comparison(comparison: RunComparison) -> None:
    console = output_console()
    for label, brief in (("A", comparison.run_a), ("B", comparison.run_b)):
        name = f" {brief.name}" if brief.name else ""
        console.print(Text.assemble(
            f"{label}: ", (brief.run_id, "bold"), name,
            f"  {brief.status}, {brief.pairs_done} judged, {brief.errors} errors, {brief.total_tokens:,} tokens, "
            f"cost {brief.cost_usd:.4f} USD",
        ))  # fmt: skip
    columns = (Column("metric"), Column("A", justify="right"), Column("B", justify="right"),
               Column("delta", justify="right"))  # fmt: skip
    rows = [(m.metric, value_text(m.a), value_text(m.b), "-" if m.delta is None else f"{m.delta:+.4g}") for m in comparison.metrics]
    print_table(console, columns, rows, title="metrics")
    changed = sum(comparison.changed_count.values())
    if not changed:
        console.print("no verdict changed between the runs.")
        return
    # Runs on a dataset judge different traces of the same records: show the record.
    key = "record_id" if any(c.record_id for c in comparison.changed) else "trace_id"
    columns = (Column("judge"), Column(key), Column("A", fit="line"), Column("B", fit="line"))
    rows = [(c.judge, getattr(c, key) or c.trace_id, c.error_a or value_text(c.a), c.error_b or value_text(c.b))
            for c in comparison.changed]  # fmt: skip
    print_listing(columns, rows, title=f"changed verdicts ({changed})", console=console,
                  next_page_token=comparison.next_page_token, more="changed verdicts")  # fmt: skip


_RUN_COLUMNS = (
    Column("run_id"), Column("status"), Column("name", fit="line", drop=2), Column("judges", fit="wrap", drop=3),
    Column("judged", fit="line", drop=1), Column("started (UTC)", drop=4), Column("pairs", justify="right"),
    Column("errors", justify="right", drop=5), Column("cost", justify="right", drop=6),
)  # fmt: skip


def _judged(run: RunSummary) -> str:
    if run.dataset is not None:
        return f"{run.dataset} v{run.dataset_version} with {run.target}"
    return run.filter_string or f"{run.trace_count} traces"


def print_runs(runs: EvaluationRunList) -> None:
    rows = [
        (r.run_id, _run_status(r.status), r.name or "-", ", ".join(r.judges),
         _judged(r), to_the_second(r.started_time), f"{r.pairs_done}/{r.pairs_total}", str(r.errors), f"{r.cost_usd:.4f}")
        for r in runs.runs
    ]  # fmt: skip
    print_listing(_RUN_COLUMNS, rows, empty="no evaluation runs; start one with 'tracejudge evaluate JUDGE'.",
                  next_page_token=runs.next_page_token, more=f"runs ({runs.total} in all)")  # fmt: skip
