"""EvaluationRun: a stored run with its totals and per-judge metrics, as Evaluate and
GetEvaluationRun return it.

Metrics are named '<judge>/<metric>' after the judge's name (not its version, so two runs of
different versions compare): mean, min, max, p50 and p90 over numeric values (booleans as 1/0),
pass_rate over boolean and string values (true, 'yes', 'pass' and 'no issues' pass; see
store.evaluations),
count (results with a value) and error_count.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from store import Database
from store.evaluations import EvaluationRunRecord, JudgeStats, get_run, judge_stats, run_totals, target_errors

NUMERIC_METRICS = ("mean", "min", "max", "p50", "p90")


class ConcurrencyReport(BaseModel):
    """How the adaptive limiter moved during one Evaluate call."""

    max_concurrency: int
    lowest: int = Field(description="The lowest number of judgments allowed in flight after rate limiting.")
    final: int
    rate_limit_signals: int = Field(description="Judgments that met rate limiting (429s).")


class EvaluationRun(BaseModel):
    """An evaluation run: what it judges, how far it got, what it cost, and its metrics."""

    run_id: str
    name: str | None
    status: str = Field(description="running, completed or stopped")
    stop_reason: str | None = Field(None, description="Why a stopped run stopped, and how to go on.")
    over_budget: str | None = Field(
        None, description="How far past max_tokens / max_cost_usd the calls in flight took the run, stopped or "
        "completed; none when it stayed within them."
    )
    judges: list[dict[str, Any]] = Field(description="Each judge's name, ref (what names it), version (stored judges), source_id and kind.")
    filter_string: str | None
    dataset: str | None = Field(None, description="The dataset a target ran on, for a run on a dataset.")
    dataset_version: int | None = None
    target: str | None = Field(None, description="The agent run on each record, 'module:function'.")
    record_count: int = Field(0, description="Dataset records the run covers (0 for a run over stored traces).")
    target_errors: int = Field(0, description="Records whose target raised (their judges' results are errors).")
    prompts: list[str] = Field(default_factory=list, description="Prompt versions the target loaded, 'name/version'.")
    trace_count: int
    pairs_total: int = Field(description="traces (records, on a dataset) x judges")
    pairs_done: int = Field(description="Pairs with a result (a value or an error).")
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float
    duration_s: float = Field(description="Seconds spent evaluating, summed over resumptions.")
    created_ns: int
    limits: dict[str, Any]
    metrics: dict[str, float | int | None] = Field(description="'<judge>/mean', '<judge>/pass_rate' ...")
    concurrency: ConcurrencyReport | None = Field(None, description="Set by Evaluate for the call that returned it.")


def judge_metrics(stats: JudgeStats | None, judge: str) -> dict[str, float | int | None]:
    """The metrics of one judge: count and error_count always; numeric and pass-rate metrics
    where the judge gave such values."""
    if stats is None:
        return {f"{judge}/count": 0, f"{judge}/error_count": 0}
    metrics: dict[str, float | int | None] = {
        f"{judge}/count": stats.results - stats.errors,
        f"{judge}/error_count": stats.errors,
    }
    if stats.numeric:
        metrics.update({f"{judge}/{name}": getattr(stats, name) for name in NUMERIC_METRICS})
    if stats.pass_rate is not None:
        metrics[f"{judge}/pass_rate"] = stats.pass_rate
    return metrics


def summarize(db: Database, run_id: str, *, concurrency: ConcurrencyReport | None = None) -> EvaluationRun:
    """The run `run_id` with totals and metrics computed from its results; EvaluationRunNotFound
    when there is none."""
    run: EvaluationRunRecord = get_run(db, run_id)
    totals = run_totals(db, run_id)
    stats = {s.judge: s for s in judge_stats(db, run_id)}
    metrics: dict[str, float | int | None] = {}
    for judge in run.judges:
        metrics.update(judge_metrics(stats.get(judge["name"]), judge["name"]))
    return EvaluationRun(
        run_id=run.run_id,
        name=run.name,
        status=run.status,
        stop_reason=run.stop_reason,
        over_budget=run.over_budget,
        judges=run.judges,
        filter_string=run.filter_string,
        dataset=run.dataset,
        dataset_version=run.dataset_version,
        target=run.target,
        record_count=run.record_count,
        target_errors=len(target_errors(db, run_id)) if run.dataset is not None else 0,
        prompts=run.prompts,
        trace_count=run.trace_count,
        pairs_total=(run.record_count if run.dataset is not None else run.trace_count) * len(run.judges),
        pairs_done=totals.results,
        errors=totals.errors,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        total_tokens=totals.total_tokens,
        cost_usd=totals.cost,
        duration_s=run.duration_s,
        created_ns=run.created_ns,
        limits=run.limits,
        metrics=metrics,
        concurrency=concurrency,
    )
