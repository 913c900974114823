"""The evaluation run routes: the runs (ListEvaluationRuns with their metrics), a run's report
(GetEvaluationRun with its value distribution and rationales) and two runs compared."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.routing import Route

from mcp_server.assessments import service as assessments
from mcp_server.evaluation import listing, reports
from mcp_server.web.api.answers import query_int, query_text, route, run_service
from store import Database
from store.errors import InvalidArgument


def _flag(request: Request, name: str) -> bool:
    text = (request.query_params.get(name) or "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"{name} must be true or false; got {text[:50]!r}.")
    return text in ("true", "1")


def _required(request: Request, name: str) -> str:
    value = query_text(request, name)
    if value is None:
        raise InvalidArgument(f"{name} is missing: pass the run id (e.g. {name}=run-0f3c...).")
    return value


async def list_evaluation_runs(request: Request, db: Database) -> dict[str, Any]:
    """ListEvaluationRuns (max_results, page_token), and beside the runs their metrics, of which the
    list shows the pass rates."""
    found = await run_service(listing.list_evaluation_runs, db, max_results=query_int(request, "max_results", 20),
                       page_token=query_text(request, "page_token"))  # fmt: skip
    ids = [run["run_id"] for run in found["runs"]]
    found["metrics"] = await anyio.to_thread.run_sync(listing.run_metrics, db, ids)
    return found


async def get_evaluation_run(request: Request, db: Database) -> dict[str, Any]:
    """GetEvaluationRun (max_results, page_token, errors_only), and beside it what the report page
    draws that the tool leaves out: each judge's value distribution and the rationale of each result
    on the page (a result names its assessment only)."""
    run_id = request.path_params["run_id"]
    report = await run_service(
        reports.get_evaluation_run,
        db,
        run_id,
        max_results=query_int(request, "max_results", 50),
        page_token=query_text(request, "page_token"),
        errors_only=_flag(request, "errors_only"),
    )
    counts = await anyio.to_thread.run_sync(reports.value_distribution, db, run_id)
    report["distribution"] = {judge: [c.model_dump(mode="json") for c in shown] for judge, shown in counts.items()}
    ids = [r["assessment_id"] for r in report["results"] if r["assessment_id"]]
    report["rationales"] = await anyio.to_thread.run_sync(assessments.rationales, db, ids)
    return report


async def compare_evaluation_runs(request: Request, db: Database) -> dict[str, Any]:
    """CompareEvaluationRuns (run_a, run_b, max_results, page_token)."""
    return await run_service(
        reports.compare_evaluation_runs,
        db,
        _required(request, "run_a"),
        _required(request, "run_b"),
        max_results=query_int(request, "max_results", 50),
        page_token=query_text(request, "page_token"),
    )


def routes(db: Database) -> list[Route]:
    return [
        route("/api/runs", list_evaluation_runs, db),
        route("/api/runs/compare", compare_evaluation_runs, db),  # before {run_id}, which would take 'compare'
        route("/api/runs/{run_id}", get_evaluation_run, db),
    ]
