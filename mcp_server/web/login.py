"""Signing in to the web pages of a server started with a token, and the guard on every request that
changes something.

A browser cannot be given an Authorization header to send, so the page trades the token once (POST
/login) for a cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
Path=/, for SESSION_HOURS. The cookie holds its expiry and an HMAC of it keyed by the token: any
server process started with the same token accepts it (nothing kept in one process that another
needs), and changing the token signs everyone out. The cookie opens /api/ only: MCP and OTLP still
need the header. A share link's token opens /api/label/ only, and the cookie does not open that.

Every request that changes something (any method but GET and HEAD, on any web route) must carry the
X-TraceJudge-Request header. A cross-site form cannot set a header, and a cross-site script that
tries must first pass a CORS preflight, which this server never grants; together with SameSite=Strict
and the Origin check of mcp_server.http.hosts this is the CSRF defence, with or without a token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from http.cookies import SimpleCookie

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.http.answers import send_json
from mcp_server.web.api.answers import json_body
from store.errors import InvalidArgument

COOKIE = "tracejudge_session"
SESSION_HOURS = 12
REQUEST_HEADER = b"x-tracejudge-request"
"""The header a write must carry (any value): what makes it a request of our own page."""
SAFE_METHODS = frozenset({"GET", "HEAD"})
SHARE_PREFIX = "/api/label"
"""mcp_server.web.api.share's routes: a share link's token, checked there, is what opens them."""


def _signature(token: str, expires: int) -> str:
    return hmac.new(token.encode(), f"tracejudge-web-session:{expires}".encode(), hashlib.sha256).hexdigest()


def session_value(token: str, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + SESSION_HOURS * 3600
    return f"{expires}.{_signature(token, expires)}"


def valid_session(token: str, value: str, now: float | None = None) -> bool:
    expires_text, _, signature = value.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    return expires > (now if now is not None else time.time()) and hmac.compare_digest(
        signature, _signature(token, expires)
    )


def session_cookie(scope: Scope) -> str | None:
    """The value of our cookie in the request's Cookie headers, if any."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is no session, not an error
                continue
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def web_opens(token: str):
    """For mcp_server.http.auth.BearerTokenMiddleware: whether a request without the header may pass,
    to the labeling page's API (which takes a share link's token and nothing else: web.api.share) or on
    its session cookie to the rest of /api/."""

    def opens(scope: Scope) -> bool:
        path = scope["path"]
        if path == SHARE_PREFIX or path.startswith(SHARE_PREFIX + "/"):
            return True
        if not (path == "/api" or path.startswith("/api/")):
            return False
        value = session_cookie(scope)
        return value is not None and valid_session(token, value)

    return opens


class RequireRequestHeader:
    """Refuses (403) a request that changes something and lacks X-TraceJudge-Request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            if not any(name == REQUEST_HEADER for name, _ in scope["headers"]):
                message = (
                    "this request changes something and lacks the X-TraceJudge-Request header that the "
                    "tracejudge pages send; send it (any value) from a script of your own."
                )
                await send_json(send, 403, {"error": message})
                return
        await self.app(scope, receive, send)


def login_routes(token: str | None) -> list[Route]:
    """GET /login says whether a token is needed and whether this browser is signed in; POST /login
    with {"token": ...} signs in; POST /logout signs out."""

    async def status(request: Request) -> Response:
        value = session_cookie(request.scope)
        signed_in = token is None or (value is not None and valid_session(token, value))
        return Response(orjson.dumps({"token_required": token is not None, "signed_in": signed_in}),
                        media_type="application/json")  # fmt: skip

    async def login(request: Request) -> Response:
        try:  # read no further than a token needs: the body is the client's to make endless
            given = (await json_body(request, max_bytes=10_000)).get("token")
        except InvalidArgument as exc:
            return _error(400, str(exc))
        if token is None:
            return _error(400, "this server was started without a token: no sign-in is needed.")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            return _error(401, "that is not the server's token (TRACEJUDGE_TOKEN, --token-file or --token).")
        response = Response(orjson.dumps({"signed_in": True}), media_type="application/json")
        response.set_cookie(
            COOKIE, session_value(token), max_age=SESSION_HOURS * 3600, path="/", httponly=True,
            samesite="strict", secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    async def logout(request: Request) -> Response:
        response = Response(orjson.dumps({"signed_in": False}), media_type="application/json")
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", status, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type="application/json")
