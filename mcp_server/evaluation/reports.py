"""The services behind GetEvaluationRun and CompareEvaluationRuns: a run's summary, metrics,
errors per judge and a page of results; two runs' metric deltas and the traces whose verdict
changed. Each answer fits ANSWER_CHARS: values and errors are clipped, results page by
(judge, trace_id) with opaque page tokens. Beside them, each judge's value distribution, which the
web report draws as a histogram.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.evaluation.summary import EvaluationRun, summarize
from mcp_server.tooling.paging import ENVELOPE_RESERVE, Page, answer_chars, check_range, clip, issue_token, read_token
from store import Database
from store import evaluations as store
from store.errors import InvalidPageToken

GET_TOOL = "GetEvaluationRun"
COMPARE_TOOL = "CompareEvaluationRuns"
ANSWER_CHARS = 40_000
MAX_RESULTS = 200
VALUE_CHARS = 300
ERROR_CHARS = 300
ERRORS_PER_JUDGE = 3
DISTRIBUTION_VALUES = 20
"""The most distinct values value_distribution gives per judge."""


class ResultRow(BaseModel):
    """One (judge, trace) result of a run, value and error clipped to 300 characters."""

    judge: str
    trace_id: str
    record_id: str | None = Field(None, description="The dataset record the trace was made for, in a run on a dataset.")
    value: bool | int | float | str | None
    error: str | None
    assessment_id: str | None
    tokens: int
    cost_usd: float
    latency_s: float | None


class EvaluationRunReport(BaseModel):
    """GetEvaluationRun's answer."""

    run: EvaluationRun
    errors_by_judge: dict[str, list[dict[str, str]]] = Field(
        description=f"Up to {ERRORS_PER_JUDGE} errors of each judge (trace_id, error)."
    )
    results: list[ResultRow]
    next_page_token: str | None = None
    notice: str | None = None


class MetricDelta(BaseModel):
    metric: str
    a: float | int | None
    b: float | int | None
    delta: float | None = Field(description="b - a, where both are numbers.")


class ChangedRow(BaseModel):
    """A trace (a dataset record, between runs on a dataset) whose verdict by `judge` changed from
    run a to run b (values and errors clipped)."""

    judge: str
    trace_id: str = Field(description="The trace judged in run a.")
    record_id: str | None = Field(None, description="The dataset record, between runs on a dataset.")
    trace_id_b: str | None = Field(None, description="The trace judged in run b, when it is another one.")
    a: bool | int | float | str | None
    b: bool | int | float | str | None
    error_a: str | None
    error_b: str | None


class RunBrief(BaseModel):
    run_id: str
    name: str | None
    status: str
    judges: list[str]
    dataset: str | None = None
    dataset_version: int | None = None
    target: str | None = None
    prompts: list[str] = Field(default_factory=list)
    trace_count: int
    pairs_done: int
    errors: int
    total_tokens: int
    cost_usd: float


class RunComparison(BaseModel):
    """CompareEvaluationRuns' answer."""

    run_a: RunBrief
    run_b: RunBrief
    metrics: list[MetricDelta]
    compared: int = Field(0, description="Results of the same judge on the same trace (or dataset record) in both runs.")
    changed_count: dict[str, int] = Field(description="Traces whose verdict changed, per judge.")
    changed: list[ChangedRow]
    next_page_token: str | None = None
    notice: str | None = None


def _value(value: Any) -> Any:
    return clip(value, VALUE_CHARS) if isinstance(value, str) else value


def _error(error: str | None) -> str | None:
    return clip(error, ERROR_CHARS) if error is not None else None


def _after(state: dict[str, Any] | None, tool: str) -> tuple[str, str] | None:
    if state is None:
        return None
    after = state.get("after")
    if not (isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) and len(a) <= 200 for a in after)):
        raise InvalidPageToken(f"page_token is damaged; call {tool} without page_token to start again.")
    return after[0], after[1]


def get_evaluation_run(
    db: Database,
    run_id: str,
    *,
    max_results: int = 50,
    page_token: str | None = None,
    errors_only: bool = False,
) -> EvaluationRunReport:
    """A run's summary and metrics, errors per judge, and a page of its results by (judge,
    trace_id); errors_only lists only results with an error."""
    check_range("max_results", max_results, 1, MAX_RESULTS)
    arguments = {"run_id": run_id, "max_results": max_results, "errors_only": errors_only}
    after = _after(read_token(page_token, GET_TOOL, arguments), GET_TOOL)
    run = summarize(db, run_id)
    errors = {
        judge: [{"trace_id": e["trace_id"], "error": _error(e["error"]) or ""} for e in listed]
        for judge, listed in store.judge_errors(db, run_id, per_judge=ERRORS_PER_JUDGE).items()
    }
    report = EvaluationRunReport(run=run, errors_by_judge=errors, results=[])
    page: Page[ResultRow] = Page(ANSWER_CHARS - ENVELOPE_RESERVE - answer_chars(report), max_results)
    rows = store.list_results(db, run_id, limit=max_results + 1, after=after, errors_only=errors_only)
    for r in rows:
        row = ResultRow(
            judge=r.judge, trace_id=r.trace_id, record_id=r.record_id, value=_value(r.value), error=_error(r.error),
            assessment_id=r.assessment_id, tokens=r.input_tokens + r.output_tokens, cost_usd=r.cost, latency_s=r.latency_s,
        )
        if not page.offer(row):
            break
    report.results = page.items
    if len(page.items) < len(rows):
        last = page.items[-1]
        report.next_page_token = issue_token(GET_TOOL, arguments, {"after": [last.judge, last.trace_id]})
        what = "results with errors" if errors_only else "results"
        report.notice = _more(GET_TOOL, what, len(page.items), run.errors if errors_only else run.pairs_done,
                              report.next_page_token)
    return report


class ValueCount(BaseModel):
    value: bool | int | float | str | None
    count: int


def value_distribution(db: Database, run_id: str) -> dict[str, list[ValueCount]]:
    """Each judge's DISTRIBUTION_VALUES most frequent values in the run (strings clipped), most
    frequent first: the web report's histograms. The judge's '<judge>/count' metric less their sum
    is what its rarer values add up to."""
    return {
        judge: [ValueCount(value=_value(value), count=n) for value, n in counts]
        for judge, counts in store.value_counts(db, run_id, per_judge=DISTRIBUTION_VALUES).items()
    }


def _more(tool: str, what: str, shown: int, total: int, token: str) -> str:
    return (
        f"showing {shown:,} {what} on this page, of {total:,} in all; call {tool} again with the same "
        f"arguments and page_token='{token}' for the next {what}."
    )


def _brief(run: EvaluationRun) -> RunBrief:
    return RunBrief(
        run_id=run.run_id, name=run.name, status=run.status, judges=[j["name"] for j in run.judges],
        dataset=run.dataset, dataset_version=run.dataset_version, target=run.target, prompts=run.prompts,
        trace_count=run.trace_count, pairs_done=run.pairs_done, errors=run.errors,
        total_tokens=run.total_tokens, cost_usd=run.cost_usd,
    )


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else float(b) - float(a)


def compare_evaluation_runs(
    db: Database, run_a: str, run_b: str, *, max_results: int = 50, page_token: str | None = None
) -> RunComparison:
    """Metric deltas from run_a to run_b (every metric either run has) and a page of the traces
    judged in both whose verdict changed (value changed, or error against value)."""
    check_range("max_results", max_results, 1, MAX_RESULTS)
    arguments = {"run_a": run_a, "run_b": run_b, "max_results": max_results}
    after = _after(read_token(page_token, COMPARE_TOOL, arguments), COMPARE_TOOL)
    a, b = summarize(db, run_a), summarize(db, run_b)
    names = list(dict.fromkeys([*a.metrics, *b.metrics]))
    comparison = RunComparison(
        run_a=_brief(a),
        run_b=_brief(b),
        metrics=[
            MetricDelta(metric=m, a=a.metrics.get(m), b=b.metrics.get(m), delta=_delta(a.metrics.get(m), b.metrics.get(m)))
            for m in names
        ],
        changed_count=store.count_changed_verdicts(db, run_a, run_b),
        changed=[],
        compared=store.count_compared(db, run_a, run_b),
    )
    if comparison.compared == 0:
        comparison.notice = (
            "the runs have no judge result on a common trace (or, for runs on a dataset, a common record), so no "
            "verdict can be compared one by one; the metrics above still compare the runs as wholes."
        )
    page: Page[ChangedRow] = Page(ANSWER_CHARS - ENVELOPE_RESERVE - answer_chars(comparison), max_results)
    rows = store.changed_verdicts(db, run_a, run_b, limit=max_results + 1, after=after)
    for c in rows:
        row = ChangedRow(
            judge=c.judge, trace_id=c.trace_id, record_id=c.record_id, trace_id_b=c.trace_id_b,
            a=_value(c.value_a), b=_value(c.value_b),
            error_a=_error(c.error_a), error_b=_error(c.error_b),
        )
        if not page.offer(row):
            break
    comparison.changed = page.items
    if len(page.items) < len(rows):
        last = page.items[-1]
        comparison.next_page_token = issue_token(
            COMPARE_TOOL, arguments, {"after": [last.judge, last.record_id or last.trace_id]}
        )
        comparison.notice = _more(
            COMPARE_TOOL, "changed verdicts", len(page.items), sum(comparison.changed_count.values()),
            comparison.next_page_token,
        )
    return comparison
