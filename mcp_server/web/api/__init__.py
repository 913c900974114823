"""The JSON API the web pages read, under /api/: each route calls the same service function as the
MCP tool it mirrors (its name in the route's docstring) and answers that tool's JSON, with the same
paging (next_page_token) and the same error messages; a page gets no query layer of its own. What a
page shows that the tool leaves out (feedback chips, a run's value counts and rationales) comes from
other services, beside the tool's answer under keys of its own.

Reads take query parameters named as the tool's arguments; writes take a JSON body and need the
X-TraceJudge-Request header (see mcp_server.web.login: no cross-site form or script can send it).
"""

from __future__ import annotations

from starlette.routing import Route

from mcp_server.web.api import datasets, labeling, prompts, runs, share, traces
from store import Database


def api_routes(db: Database) -> list[Route]:
    return [
        *traces.routes(db), *runs.routes(db), *labeling.routes(db), *share.routes(db),
        *datasets.routes(db), *prompts.routes(db),
    ]
