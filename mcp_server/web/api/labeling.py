"""The labeling routes of the signed-in pages: sessions with their progress, schemas, a session's
queue, and its share links (made, listed and revoked here; what a link opens is mcp_server.web.api.share)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from mcp_server.labeling import definitions, links, queue
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_text, route, run_service
from store import Database


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


async def add_traces_to_labeling_session(request: Request, db: Database) -> dict[str, Any]:
    """AddTracesToLabelingSession ({"trace_ids": [...]} or {"filter_string": ...}, max_traces)."""
    body = known_fields(await json_body(request), ("trace_ids", "filter_string", "max_traces"))
    return await run_service(queue.add_traces, db, request.path_params["session"], trace_ids=body.get("trace_ids"),
                             filter_string=body.get("filter_string"), max_traces=body.get("max_traces") or 1_000)  # fmt: skip


async def list_labeling_links(request: Request, db: Database) -> dict[str, Any]:
    """The session's share links (`tracejudge labeling links SESSION`)."""
    return await run_service(links.list_links, db, request.path_params["session"])


async def share_labeling_session(request: Request, db: Database) -> dict[str, Any]:
    """A new share link (`tracejudge labeling share`): {"labeler"?, "expires"?}; its token is in the answer."""
    body = known_fields(await json_body(request), ("labeler", "expires"))
    return await run_service(links.share_session, db, request.path_params["session"],
                             labeler=body.get("labeler") or None, expires=body.get("expires") or links.DEFAULT_EXPIRES)  # fmt: skip


async def revoke_labeling_link(request: Request, db: Database) -> dict[str, Any]:
    """Revoke a share link (`tracejudge labeling revoke`)."""
    return await run_service(links.revoke_link, db, request.path_params["link_id"])


def routes(db: Database) -> list[Route]:
    return [
        route("/api/labeling/sessions", list_labeling_sessions, db),
        route("/api/labeling/schemas", list_labeling_schemas, db),
        route("/api/labeling/sessions/{session}", get_labeling_session, db),
        route("/api/labeling/sessions/{session}/items", list_labeling_items, db),
        route("/api/labeling/sessions/{session}/traces", add_traces_to_labeling_session, db, "POST"),
        route("/api/labeling/sessions/{session}/links", list_labeling_links, db),
        route("/api/labeling/sessions/{session}/links", share_labeling_session, db, "POST"),
        route("/api/labeling/links/{link_id}/revoke", revoke_labeling_link, db, "POST"),
    ]
