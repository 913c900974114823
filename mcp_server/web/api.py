"""The JSON API the web pages read, under /api/: each route calls the same service function as the
MCP tool it mirrors (its name in the route's docstring) and answers that tool's JSON, with the same
paging (next_page_token) and the same error messages; a page gets no query layer of its own. What a
page shows that the tool leaves out (feedback chips, a run's value counts and rationales) comes from
other services, beside the tool's answer under keys of its own.

Reads take query parameters named as the tool's arguments; writes take a JSON body and need the
X-TraceJudge-Request header (see mcp_server.web.login: no cross-site form or script can send it).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_server import traces
from mcp_server.assessments import service as assessments
from mcp_server.evaluation import listing, reports
from mcp_server.labeling import definitions, links, queue
from mcp_server.tooling.paging import dumps
from store import Database
from store.errors import InvalidArgument, LinkRefused, TraceJudgeError

MAX_BODY_BYTES = 64_000
"""The most a write's JSON body may hold: feedback is a value, a comment and a name."""
FEEDBACK_NAME = "user_feedback"
"""What the page's thumbs up/down is logged as, unless the request names another."""


def json_response(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def run_service(service: Callable[..., BaseModel | dict], /, *args: Any, **kwargs: Any) -> Any:
    """The service's answer as JSON data, run off the event loop (a trace may be large)."""
    answer = await anyio.to_thread.run_sync(functools.partial(service, *args, **kwargs))
    return answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer


def endpoint(handler: Callable[[Request, Database], Awaitable[Any]], db: Database) -> Callable[..., Any]:
    """A route whose handler returns JSON data; the service's expected errors become answers that say
    what was wrong (404 for what does not exist, 403 for a refused labeling link, 400 for the rest), a
    busy store 503."""

    async def endpoint(request: Request) -> Response:
        try:
            return json_response(await handler(request, db))
        except LookupError as exc:
            if not isinstance(exc, TraceJudgeError):
                raise
            return error_response(404, str(exc))
        except LinkRefused as exc:
            return error_response(403, str(exc))
        except TraceJudgeError as exc:
            return error_response(400, str(exc))
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return Response(dumps({"error": "the store is busy; try again in a moment."}), 503,
                            media_type="application/json", headers={"Retry-After": "1"})  # fmt: skip

    return endpoint


def query_int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a whole number; got {text[:50]!r}.") from None


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None


async def json_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object, read no further than `max_bytes`; else an InvalidArgument saying why."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise InvalidArgument(f"the request body is over {max_bytes:,} bytes.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the request body is not JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise InvalidArgument("the request body must be a JSON object.")
    return data


async def search_traces(request: Request, db: Database) -> dict[str, Any]:
    """SearchTraces (filter_string, order_by, max_results, page_token), and beside each trace the
    newest feedback of each name, which the list shows as chips."""
    found = await run_service(
        traces.search_traces,
        db,
        filter_string=query_text(request, "filter_string"),
        order_by=request.query_params.getlist("order_by") or None,
        max_results=query_int(request, "max_results", 50),
        page_token=query_text(request, "page_token"),
    )
    ids = [trace["trace_id"] for trace in found["traces"]]
    chips = await anyio.to_thread.run_sync(assessments.latest_feedback, db, ids)
    found["feedback"] = {trace_id: [chip.model_dump(mode="json") for chip in shown] for trace_id, shown in chips.items()}
    return found


async def get_trace_info(request: Request, db: Database) -> dict[str, Any]:
    """GetTraceInfo."""
    return await run_service(traces.get_trace_info, db, request.path_params["trace_id"])


async def list_spans(request: Request, db: Database) -> dict[str, Any]:
    """ListSpans (max_results, page_token)."""
    return await run_service(
        traces.list_spans,
        db,
        request.path_params["trace_id"],
        max_results=query_int(request, "max_results", 1_000),
        page_token=query_text(request, "page_token"),
    )


async def get_span(request: Request, db: Database) -> dict[str, Any]:
    """GetSpan (max_content_length, page_token)."""
    return await run_service(
        traces.get_span,
        db,
        request.path_params["trace_id"],
        request.path_params["span_id"],
        max_content_length=query_int(request, "max_content_length", 50_000),
        page_token=query_text(request, "page_token"),
    )


async def get_span_timing_report(request: Request, db: Database) -> dict[str, Any]:
    """GetSpanTimingReport (max_results): the page marks the critical path from it."""
    return await run_service(traces.get_span_timing_report, db, request.path_params["trace_id"],
                      max_results=query_int(request, "max_results", 100))  # fmt: skip


async def list_assessments(request: Request, db: Database) -> dict[str, Any]:
    """ListAssessments (max_results, page_token)."""
    return await run_service(
        assessments.list_assessments,
        db,
        request.path_params["trace_id"],
        max_results=query_int(request, "max_results", 50),
        page_token=query_text(request, "page_token"),
    )


async def log_feedback(request: Request, db: Database) -> dict[str, Any]:
    """LogFeedback from a person at the page: source HUMAN, the name they gave as source_id."""
    body = await json_body(request)
    unknown = sorted(set(body) - {"name", "value", "rationale", "source_id"})
    if unknown:
        raise InvalidArgument(f"unknown fields {', '.join(unknown)}; send name, value, rationale, source_id.")
    if "value" not in body:
        raise InvalidArgument("value is missing: true for thumbs up, false for thumbs down, or another value.")
    return await run_service(
        assessments.log_feedback,
        db,
        request.path_params["trace_id"],
        body.get("name") or FEEDBACK_NAME,
        body["value"],
        rationale=body.get("rationale") or None,
        source_type="HUMAN",
        source_id=body.get("source_id") or None,
    )


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


async def list_labeling_sessions(request: Request, db: Database) -> dict[str, Any]:
    """ListLabelingSessions (max_results, page_token), each with its progress per labeler."""
    return await run_service(definitions.list_sessions, db, max_results=query_int(request, "max_results", 50),
                             page_token=query_text(request, "page_token"))  # fmt: skip


async def get_labeling_session(request: Request, db: Database) -> dict[str, Any]:
    """One session as ListLabelingSessions shows it (by name or session_id)."""
    return await run_service(definitions.get_session, db, request.path_params["session"])


async def list_labeling_schemas(request: Request, db: Database) -> dict[str, Any]:
    """ListLabelingSchemas (max_results, page_token)."""
    return await run_service(definitions.list_schemas, db, max_results=query_int(request, "max_results", 100),
                             page_token=query_text(request, "page_token"))  # fmt: skip


async def list_labeling_items(request: Request, db: Database) -> dict[str, Any]:
    """ListLabelingItems (status, max_results, page_token)."""
    return await run_service(
        queue.list_items, db, request.path_params["session"], status=query_text(request, "status"),
        max_results=query_int(request, "max_results", 20), page_token=query_text(request, "page_token"),
    )  # fmt: skip


async def list_labeling_links(request: Request, db: Database) -> dict[str, Any]:
    """The session's share links (`tracejudge labeling links SESSION`)."""
    return await run_service(links.list_links, db, request.path_params["session"])


async def share_labeling_session(request: Request, db: Database) -> dict[str, Any]:
    """A new share link (`tracejudge labeling share`): {"labeler"?, "expires"?}; its token is in the answer."""
    body = await json_body(request)
    if unknown := sorted(set(body) - {"labeler", "expires"}):
        raise InvalidArgument(f"unknown fields {', '.join(unknown)}; send labeler and expires (e.g. '7d').")
    return await run_service(links.share_session, db, request.path_params["session"],
                             labeler=body.get("labeler") or None, expires=body.get("expires") or links.DEFAULT_EXPIRES)  # fmt: skip


async def revoke_labeling_link(request: Request, db: Database) -> dict[str, Any]:
    """Revoke a share link (`tracejudge labeling revoke`)."""
    return await run_service(links.revoke_link, db, request.path_params["link_id"])


def api_routes(db: Database) -> list[Route]:
    def get(path: str, handler: Callable[[Request, Database], Awaitable[Any]]) -> Route:
        return Route(path, endpoint(handler, db), methods=["GET"])

    return [
        get("/api/traces", search_traces),
        get("/api/traces/{trace_id}", get_trace_info),
        get("/api/traces/{trace_id}/spans", list_spans),
        get("/api/traces/{trace_id}/spans/{span_id}", get_span),
        get("/api/traces/{trace_id}/timing", get_span_timing_report),
        get("/api/traces/{trace_id}/assessments", list_assessments),
        Route("/api/traces/{trace_id}/feedback", endpoint(log_feedback, db), methods=["POST"]),
        get("/api/labeling/sessions", list_labeling_sessions),
        get("/api/labeling/schemas", list_labeling_schemas),
        get("/api/labeling/sessions/{session}", get_labeling_session),
        get("/api/labeling/sessions/{session}/items", list_labeling_items),
        get("/api/labeling/sessions/{session}/links", list_labeling_links),
        Route("/api/labeling/sessions/{session}/links", endpoint(share_labeling_session, db), methods=["POST"]),
        Route("/api/labeling/links/{link_id}/revoke", endpoint(revoke_labeling_link, db), methods=["POST"]),
        get("/api/runs", list_evaluation_runs),
        get("/api/runs/compare", compare_evaluation_runs),  # before {run_id}, which would take 'compare'
        get("/api/runs/{run_id}", get_evaluation_run),
    ]
