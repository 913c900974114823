"""The trace routes: the list (SearchTraces with feedback chips), a trace, its spans, a span, its
timing and its assessments, and the page's thumbs up/down (LogFeedback from a person)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.routing import Route

from mcp_server import traces
from mcp_server.assessments import service as assessments
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_text, route, run_service
from store import Database
from store.errors import InvalidArgument

FEEDBACK_NAME = "user_feedback"
"""What the page's thumbs up/down is logged as, unless the request names another."""


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


async def get_assessment(request: Request, db: Database) -> dict[str, Any]:
    """GetAssessment: the page reads an assessment's findings, which ListAssessments only counts."""
    return await run_service(assessments.get_assessment, db, request.path_params["assessment_id"])


async def log_feedback(request: Request, db: Database) -> dict[str, Any]:
    """LogFeedback from a person at the page: source HUMAN, the name they gave as source_id."""
    body = known_fields(await json_body(request), ("name", "value", "rationale", "source_id"))
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


def routes(db: Database) -> list[Route]:
    return [
        route("/api/traces", search_traces, db),
        route("/api/traces/{trace_id}", get_trace_info, db),
        route("/api/traces/{trace_id}/spans", list_spans, db),
        route("/api/traces/{trace_id}/spans/{span_id}", get_span, db),
        route("/api/traces/{trace_id}/timing", get_span_timing_report, db),
        route("/api/traces/{trace_id}/assessments", list_assessments, db),
        route("/api/traces/{trace_id}/feedback", log_feedback, db, "POST"),
        route("/api/assessments/{assessment_id}", get_assessment, db),
    ]
