"""The JSON API the web pages read, under /api/: each route calls the same service function as the
MCP tool it mirrors (its name in the route's docstring) and answers that tool's JSON, with the same
paging (next_page_token) and the same error messages; a page gets no query layer of its own. What a
page shows that the tool leaves out (feedback chips, a run's value counts and rationales) comes from
other services, beside the tool's answer under keys of its own.

Reads take query parameters named as the tool's arguments; writes take a JSON body and need the
X-TraceJudge-Request header (see mcp_server.web.login: no cross-site form or script can send it).
On a read-only server every write answers 403 saying so, whichever page sends it: the refusal is
made here, once, not remembered by each route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.routing import Route

from mcp_server.settings import Settings
from mcp_server.web.api import datasets, issues, judges, labeling, monitors, prompts, runs, share, traces
from mcp_server.web.api.answers import endpoint, refuse_if_read_only
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer


def api_routes(db: Database, settings: Settings, judge_server: JudgeServer) -> list[Route]:
    """`settings`: the server's, for the routes that call a model (the judge builder's try, running a
    judge) or write; `judge_server`: what an agent judge run from a page investigates through."""
    routes = [*traces.routes(db), *runs.routes(db), *labeling.routes(db), *share.routes(db),
              *datasets.routes(db), *prompts.routes(db), *judges.routes(db, settings, judge_server),
              *monitors.routes(db), *issues.routes(db)]  # fmt: skip
    if not settings.read_only:
        return routes
    return [Route(r.path, endpoint(_refused(settings), db), methods=["POST"]) if "POST" in (r.methods or ()) else r
            for r in routes]  # fmt: skip


def _refused(settings: Settings):  # noqa: ANN202 (a route handler)
    async def refuse(request: Request, db: Database) -> None:
        refuse_if_read_only(settings, "change the store from its pages")

    return refuse
