"""The issue routes: the issues (ListIssues, and beside them each one's share of the traces of the
last PREVALENCE_DAYS days, for the list's column), an issue with its prevalence and a page of its
evidence (GetIssue), a change to one (UpdateIssue: its fields, a merge into another, or a split) and
a dataset made of its traces (CreateDatasetFromIssue). Changing and making a dataset write: a
read-only server refuses them. Discovering issues and drafting a judge from one call models and are
left to the CLI and MCP."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.routing import Route

from mcp_server.issues import service
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_number, query_text, route, run_service
from store import Database
from store.errors import InvalidArgument

FIELDS = ("status", "severity", "title", "description", "category", "root_cause")
UPDATE_FIELDS = (*FIELDS, "merge_into", "split_trace_ids", "split_title")
"""What a change's body may hold: UpdateIssue's arguments (one change a request, as the tool takes)."""
PREVALENCE_DAYS = 7


def _prevalence(db: Database, issue_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each issue's prevalence over the last PREVALENCE_DAYS days, by id."""
    return {issue_id: service.prevalence(db, issue_id, PREVALENCE_DAYS).model_dump(mode="json") for issue_id in issue_ids}


async def list_issues(request: Request, db: Database) -> dict[str, Any]:
    """ListIssues (status, category, order, max_results, page_token), and beside the issues their
    prevalence over the last 7 days (`prevalence`, by issue id)."""
    found = await run_service(
        service.list_issues, db, status=query_text(request, "status"), category=query_text(request, "category"),
        order=query_text(request, "order") or "traces", max_results=query_int(request, "max_results", 50),
        page_token=query_text(request, "page_token"),
    )  # fmt: skip
    found["prevalence"] = await anyio.to_thread.run_sync(_prevalence, db, [i["issue_id"] for i in found["issues"]])
    return found


async def get_issue(request: Request, db: Database) -> dict[str, Any]:
    """GetIssue (window_days, max_results, page_token)."""
    return await run_service(
        service.get_issue, db, request.path_params["issue_id"], window_days=query_number(request, "window_days", 7),
        max_results=query_int(request, "max_results", 20), page_token=query_text(request, "page_token"),
    )  # fmt: skip


async def update_issue(request: Request, db: Database) -> dict[str, Any]:
    """UpdateIssue ({"status"?, "severity"?, "title"?, ...} or {"merge_into"} or {"split_trace_ids",
    "split_title"?}): the issues changed or made."""
    body = known_fields(await json_body(request), UPDATE_FIELDS)
    _check_types(body)
    return await run_service(
        service.update_issue, db, request.path_params["issue_id"], {k: body.get(k) for k in FIELDS},
        merge_into=body.get("merge_into"), split_trace_ids=body.get("split_trace_ids"),
        split_title=body.get("split_title"),
    )  # fmt: skip


def _check_types(body: dict[str, Any]) -> None:
    """An InvalidArgument for a merge or split argument of the wrong type, as the tool's schema refuses it
    (the service checks the fields)."""
    for key in ("merge_into", "split_title"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidArgument(f"{key} must be text; got {body[key]!r:.50}.")
    ids = body.get("split_trace_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise InvalidArgument('split_trace_ids must be a list of trace ids, e.g. ["4bf92f3577b34da6a3ce929d0e0e4736"].')


async def create_dataset(request: Request, db: Database) -> dict[str, Any]:
    """CreateDatasetFromIssue ({"dataset"?}): what adding the issue's traces did to the dataset."""
    body = known_fields(await json_body(request), ("dataset",))
    if body.get("dataset") is not None and not isinstance(body["dataset"], str):
        raise InvalidArgument(f"dataset must be a dataset's name; got {body['dataset']!r:.50}.")
    return await run_service(service.create_dataset_from_issue, db, request.path_params["issue_id"], body.get("dataset"))


def routes(db: Database) -> list[Route]:
    return [
        route("/api/issues", list_issues, db),
        route("/api/issues/{issue_id}", get_issue, db),
        route("/api/issues/{issue_id}", update_issue, db, "POST"),
        route("/api/issues/{issue_id}/dataset", create_dataset, db, "POST"),
    ]
