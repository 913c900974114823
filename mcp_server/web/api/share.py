"""The JSON API of the labeling page a share link opens, under /api/label/: the one part of the server
a link's token reaches, and all it reaches (mcp_server.labeling.links makes and checks the links).

Every request carries the token in the X-TraceJudge-Link header (the page reads it from the URL's
fragment); it opens the link's session, its queue, the traces queued in it (their info, spans and
span content, as GetTraceInfo, ListSpans and GetSpan answer them) and the labels given there. Any
other trace is unknown to it (404), and no other route takes it: the server's bearer token and
session cookie open /api/ and /mcp, never this token, and these routes take only this token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.routing import Route

from mcp_server.labeling import links
from mcp_server.web.api.answers import endpoint, json_body, query_int, query_text, run_service
from mcp_server.web.api.traces import get_span, get_trace_info, list_spans
from mcp_server.web.login import SHARE_PREFIX
from store import Database
from store.labeling_links import LabelingLinkRecord

LINK_HEADER = "x-tracejudge-link"

LinkedHandler = Callable[[Request, Database, LabelingLinkRecord], Awaitable[Any]]


def _linked(handler: LinkedHandler) -> Callable[[Request, Database], Awaitable[Any]]:
    """The handler, called only with an active link, and on a trace only one its session queues."""

    async def checked(request: Request, db: Database) -> Any:
        link = await anyio.to_thread.run_sync(links.open_link, db, request.headers.get(LINK_HEADER))
        if "trace_id" in request.path_params:
            await anyio.to_thread.run_sync(links.queued_trace, db, link, request.path_params["trace_id"])
        return await handler(request, db, link)

    return checked


async def session(request: Request, db: Database, link: LabelingLinkRecord) -> Any:
    """The session, its questions (schemas in full) and progress."""
    return await run_service(links.linked_session, db, link)


async def items(request: Request, db: Database, link: LabelingLinkRecord) -> Any:
    """ListLabelingItems of the link's session (status, max_results, page_token)."""
    return await run_service(
        links.link_items, db, link, status=query_text(request, "status"),
        max_results=query_int(request, "max_results", 20), page_token=query_text(request, "page_token"),
    )  # fmt: skip


async def labels(request: Request, db: Database, link: LabelingLinkRecord) -> Any:
    """Labels of one queued trace: {"labels": [{schema, value, comment}], "labeler": name}."""
    body = await json_body(request)
    return await run_service(links.submit_labels, db, link, request.path_params["trace_id"], body.get("labels"),
                                 labeler=body.get("labeler"))  # fmt: skip


async def skip(request: Request, db: Database, link: LabelingLinkRecord) -> Any:
    """SkipLabelingItem: {"labeler": name}."""
    body = await json_body(request)
    return await run_service(links.skip_trace, db, link, request.path_params["trace_id"],
                                 labeler=body.get("labeler"))  # fmt: skip


def _trace_read(handler: Callable[[Request, Database], Awaitable[Any]]) -> LinkedHandler:
    """A trace read of the main API, for a trace _linked has found in the link's session."""

    async def read(request: Request, db: Database, link: LabelingLinkRecord) -> Any:
        return await handler(request, db)

    return read


def routes(db: Database) -> list[Route]:
    def route(path: str, handler: LinkedHandler, method: str = "GET") -> Route:
        return Route(SHARE_PREFIX + path, endpoint(_linked(handler), db), methods=[method])

    return [
        route("", session),
        route("/items", items),
        route("/traces/{trace_id}", _trace_read(get_trace_info)),
        route("/traces/{trace_id}/spans", _trace_read(list_spans)),
        route("/traces/{trace_id}/spans/{span_id}", _trace_read(get_span)),
        route("/traces/{trace_id}/labels", labels, "POST"),
        route("/traces/{trace_id}/skip", skip, "POST"),
    ]
