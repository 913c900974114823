"""The web pages at / of the server that serves /mcp: one page shell (static/index.html) for every
page route, its script and styles under /static/, the JSON API under /api/ (mcp_server.web.api) and
sign-in (mcp_server.web.login); all with the security headers below.

The pages are a front end with no build step: Preact and htm as vendored ES modules
(static/vendor, with their licences), so `pip install` is all it needs, offline too. Every string from
the store reaches the DOM as text (Preact renders strings as text nodes; nothing uses
dangerouslySetInnerHTML), and the Content-Security-Policy allows only this origin's own script and
styles: no inline script, no eval, no outside origin, no framing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.access.service import Credentials
from mcp_server.settings import Settings
from mcp_server.web.api import api_routes
from mcp_server.web.login import RequireRequestHeader, login_routes
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

STATIC = Path(__file__).with_name("static")
PAGES = (
    "/", "/traces/{trace_id}", "/sessions/{session_id}", "/runs", "/runs/compare", "/runs/{run_id}",
    "/labeling", "/labeling/{session}", "/label", "/judges", "/judges/{name}", "/datasets", "/datasets/{name}",
    "/prompts", "/prompts/{name}", "/monitors", "/monitors/{name}", "/issues", "/issues/{issue_id}",
)
"""The page routes: each answers the page shell, whose script renders the page for the URL."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response of the web routes, and no-store to the API's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [header for header in SECURITY_HEADERS if header[0] not in names]
                if api:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def web_app(db: Database, settings: Settings, judge_server: JudgeServer) -> ASGIApp:
    """The pages, their assets, the JSON API and sign-in, as one ASGI app that answers any path
    (a path it does not serve: 404, as JSON under /api/). `settings`: the server's (its token, its
    judge models, read-only); `judge_server`: what an agent judge run from a page investigates through."""

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def api_not_found(request: Request) -> Response:
        return JSONResponse({"error": f"no API route {request.url.path}; the pages use /api/traces and /api/runs ..."}, 404)

    router = Router(
        [
            *(Route(path, page, methods=["GET"]) for path in PAGES),
            Mount("/static", StaticFiles(directory=STATIC)),
            *login_routes(Credentials(db, settings.token)),
            *api_routes(db, settings, judge_server),
            Route("/api/{rest:path}", api_not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ],
        # Its own 404, not the router's default (an exception the outer app answers, past these headers).
        default=PlainTextResponse("Not Found", status_code=404),
    )
    return SecurityHeaders(RequireRequestHeader(router))
