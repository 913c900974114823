"""The service behind ListEvaluationRuns: the stored runs, newest first, each as one compact
summary (what it judged, with which judges, how far it got, what it cost), so a lost run id is
found again. GetEvaluationRun has a run's metrics and results; run_metrics gives them for a page of
runs, which the web list shows beside each."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.evaluation.summary import summarize
from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    check_range,
    clip,
    issue_token,
    next_page_notice,
    read_token,
)
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import evaluations as store
from store.errors import InvalidPageToken

LIST_TOOL = "ListEvaluationRuns"
ANSWER_CHARS = 40_000
MAX_RUNS = 100
TEXT_CHARS = 300
"""A run's name, filter_string and stop reason are cut to this many characters."""
_LARGEST_NS = 2**63 - 1


class RunSummary(BaseModel):
    """One evaluation run in ListEvaluationRuns: names and filter cut to 300 characters."""

    run_id: str
    name: str | None
    status: str = Field(description="running, completed or stopped")
    stop_reason: str | None = Field(None, description="Why a stopped run stopped.")
    judges: list[str] = Field(description="The judges' names.")
    started_time: str = Field(description="When the run started (ISO 8601, UTC).")
    ended_time: str | None = Field(description="When it last completed or stopped; none while running.")
    duration_s: float = Field(description="Seconds spent evaluating, summed over resumptions.")
    filter_string: str | None = Field(description="The traces' filter, for a run over stored traces chosen by one.")
    dataset: str | None = Field(None, description="The dataset a target ran on, for a run on a dataset.")
    dataset_version: int | None = None
    target: str | None = Field(None, description="The agent run on each record, 'module:function'.")
    prompts: list[str] = Field(default_factory=list, description="Prompt versions the target loaded, 'name/version'.")
    trace_count: int
    record_count: int = Field(0, description="Dataset records the run covers (0 for a run over stored traces).")
    pairs_total: int = Field(description="traces (records, on a dataset) x judges")
    pairs_done: int = Field(description="Pairs with a result (a value or an error).")
    errors: int
    total_tokens: int
    cost_usd: float


class EvaluationRunList(BaseModel):
    """ListEvaluationRuns' answer."""

    runs: list[RunSummary]
    total: int = Field(description="Runs in the store.")
    next_page_token: str | None = None
    notice: str | None = None


def _summary(run: store.EvaluationRunRecord, totals: store.RunTotals) -> RunSummary:
    covered = run.record_count if run.dataset is not None else run.trace_count
    return RunSummary(
        run_id=run.run_id,
        name=_clip(run.name),
        status=run.status,
        stop_reason=_clip(run.stop_reason),
        judges=[judge["name"] for judge in run.judges],
        started_time=iso_time(run.created_ns) or "",
        ended_time=None if run.status == "running" else iso_time(run.updated_ns),
        duration_s=run.duration_s,
        filter_string=_clip(run.filter_string),
        dataset=run.dataset,
        dataset_version=run.dataset_version,
        target=run.target,
        prompts=run.prompts,
        trace_count=run.trace_count,
        record_count=run.record_count,
        pairs_total=covered * len(run.judges),
        pairs_done=totals.results,
        errors=totals.errors,
        total_tokens=totals.total_tokens,
        cost_usd=totals.cost,
    )


def _clip(text: str | None) -> str | None:
    return None if text is None else clip(text, TEXT_CHARS)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _LARGEST_NS


def _position(state: dict[str, Any] | None) -> tuple[tuple[int, str] | None, int]:
    """(the (created_ns, run_id) a page starts after, how many runs earlier pages showed)."""
    if state is None:
        return None, 0
    before, shown = state.get("before"), state.get("shown")
    if not (
        isinstance(before, list) and len(before) == 2 and _count(before[0])
        and isinstance(before[1], str) and len(before[1]) <= 100 and _count(shown)
    ):  # fmt: skip
        raise InvalidPageToken(f"page_token is damaged; call {LIST_TOOL} without page_token to start again.")
    return (before[0], before[1]), shown


def list_evaluation_runs(db: Database, *, max_results: int = 20, page_token: str | None = None) -> EvaluationRunList:
    """A page of the stored evaluation runs, newest first."""
    check_range("max_results", max_results, 1, MAX_RUNS)
    arguments = {"max_results": max_results}
    before, shown = _position(read_token(page_token, LIST_TOOL, arguments))
    listed, total = store.list_runs(db, limit=max_results + 1, before=before)
    page: Page[RunSummary] = Page(ANSWER_CHARS - ENVELOPE_RESERVE, max_results)
    kept: list[store.EvaluationRunRecord] = []
    for run, totals in listed:
        if not page.offer(_summary(run, totals)):
            break
        kept.append(run)
    answer = EvaluationRunList(runs=page.items, total=total)
    if len(page.items) < len(listed):
        last, upto = kept[-1], shown + len(page.items)
        answer.next_page_token = issue_token(
            LIST_TOOL, arguments, {"before": [last.created_ns, last.run_id], "shown": upto}
        )
        answer.notice = next_page_notice(LIST_TOOL, "runs", shown + 1, upto, total, answer.next_page_token)
    return answer


def run_metrics(db: Database, run_ids: list[str]) -> dict[str, dict[str, float | int | None]]:
    """Each of `run_ids`' metrics as GetEvaluationRun gives them ('<judge>/pass_rate' ...)."""
    return {run_id: summarize(db, run_id).metrics for run_id in run_ids}
