"""The JSON API the web pages read, under /api/: each route calls the same service function as the
MCP tool it mirrors (its name in the route's docstring) and answers that tool's JSON, with the same
paging (next_page_token) and the same error messages; a page gets no query layer of its own. What a
page shows that the tool leaves out (feedback chips, a run's value counts and rationales) comes from
other services, beside the tool's answer under keys of its own.

Reads take query parameters named as the tool's arguments; writes take a JSON body and need the
X-TraceJudge-Request header (see mcp_server.web.login: no cross-site form or script can send it).
On a read-only server every write answers 403 saying so, whichever page sends it; a token whose role
is too low for a write is refused the same way (WRITE_ROUTES), and each write is recorded with the
token that made it: the refusals are made here, once, not remembered by each route.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_server.access.roles import Role, at_least, refusal
from mcp_server.access.service import record_write
from mcp_server.http.auth import request_access
from mcp_server.settings import Settings
from mcp_server.web.api import datasets, issues, judges, labeling, monitors, prompts, runs, share, traces
from mcp_server.web.api.answers import endpoint, error_response, refuse_if_read_only
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

logger = logging.getLogger(__name__)


WRITE_ROUTES: dict[str, Role] = {
    "/api/traces/{trace_id}/feedback": "write",
    "/api/datasets/{name}/records": "write",
    "/api/datasets/{name}/traces": "write",
    "/api/prompts/{name}/aliases": "write",
    "/api/labeling/sessions/{session}/traces": "write",
    "/api/labeling/sessions/{session}/links": "write",
    "/api/labeling/links/{link_id}/revoke": "write",
    "/api/issues/{issue_id}": "write",
    "/api/issues/{issue_id}/dataset": "write",
    "/api/judges": "admin",
    "/api/judge-builder/try": "admin",
    "/api/traces/{trace_id}/judge": "admin",
    "/api/monitors/{name}": "admin",
    "/api/monitors/{name}/backfill": "admin",
}
"""The role each page write needs: that of the MCP tool it mirrors (mcp_server.access.roles); trying a
judge in the builder spends as RunJudge does. A POST route missing here is a programming error, named
when the routes are built. The share link's routes (web.api.share) are not here: the link decides."""


def api_routes(db: Database, settings: Settings, judge_server: JudgeServer) -> list[Route]:
    """`settings`: the server's, for the routes that call a model (the judge builder's try, running a
    judge) or write; `judge_server`: what an agent judge run from a page investigates through."""
    shared = share.routes(db)
    routes = [*traces.routes(db), *runs.routes(db), *labeling.routes(db), *datasets.routes(db),
              *prompts.routes(db), *judges.routes(db, settings, judge_server), *monitors.routes(db), *issues.routes(db)]  # fmt: skip
    writes = [r for r in routes if "POST" in (r.methods or ())]
    if stray := {r.path for r in writes} ^ WRITE_ROUTES.keys():
        raise RuntimeError(f"POST routes and WRITE_ROUTES differ in {sorted(stray)}; give each page write its role")
    if settings.read_only:  # the share link's writes too: a label is a write
        refused = endpoint(_refused(settings), db)
        return [Route(r.path, refused, methods=["POST"]) if "POST" in (r.methods or ()) else r for r in [*routes, *shared]]
    return [*(Route(r.path, _for_role(r, WRITE_ROUTES[r.path], db), methods=["POST"]) if r in writes else r
              for r in routes), *shared]  # fmt: skip


def _refused(settings: Settings):  # noqa: ANN202 (a route handler)
    async def refuse(request: Request, db: Database) -> None:
        refuse_if_read_only(settings, "change the store from its pages")

    return refuse


def _for_role(route: Route, needed: Role, db: Database):  # noqa: ANN202 (a route handler)
    """`route`'s handler, for requests whose token's role reaches `needed`, each write recorded with its token."""

    async def checked(request: Request) -> Response:
        access = request_access(request.scope)
        if not at_least(access.role, needed):
            return error_response(403, refusal(access, needed, "this page's change"))
        response = await route.endpoint(request)
        try:
            await anyio.to_thread.run_sync(functools.partial(
                record_write, db, access, via="web", action=f"POST {route.path}", ok=response.status_code < 400))  # fmt: skip
        except sqlite3.OperationalError:  # a busy store: the write happened, the note of who made it did not
            logger.warning("could not record the page write %s by %s: the store is busy", route.path, access.describe())
        return response

    return checked
