"""Signing in to the web pages of a server that needs a token, and the guard on every request that
changes something.

A browser cannot be given an Authorization header to send, so the page trades a token once (POST
/login) for a cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
Path=/, for SESSION_HOURS. The cookie holds its expiry, which token it stands for (by id, never the
token) and an HMAC of both keyed by the server's token or the stored token's hash: any server process
over the same store accepts it (nothing kept in one process that another needs), the session has
its token's role, and changing the server's token or revoking a stored one signs its sessions out. The cookie opens /api/ only: MCP and OTLP still
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
from collections.abc import Callable
from http.cookies import SimpleCookie

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.access.roles import OPERATOR, Access
from mcp_server.access.service import OPERATOR_ID, Credentials
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
LINK_HOLDER = Access("read", token_name="a labeling link")
"""Who a request to SHARE_PREFIX is before its link is checked: what the link allows is decided there."""


def _signature(key: bytes, token_id: str, expires: int) -> str:
    return hmac.new(key, f"tracejudge-web-session:{token_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def session_value(key: bytes, token_id: str, now: float | None = None) -> str:
    """A session cookie's value for token `token_id` (OPERATOR_ID for the server's own), signed by `key`."""
    expires = int(now if now is not None else time.time()) + SESSION_HOURS * 3600
    return f"{expires}.{token_id}.{_signature(key, token_id, expires)}"


def valid_session(credentials: Credentials, value: str, now: float | None = None) -> Access | None:
    """The Access of a session cookie's value while it is unexpired, well signed, and its token active."""
    expires_text, _, rest = value.partition(".")
    token_id, _, signature = rest.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or len(token_id) > 40:
        return None
    expires = int(expires_text)
    if expires <= (now if now is not None else time.time()):
        return None
    found = credentials.session_access(token_id)
    if found is None or not hmac.compare_digest(signature, _signature(found[1], token_id, expires)):
        return None
    return found[0]


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


def web_opens(credentials: Credentials) -> Callable[[Scope], Access | None]:
    """For mcp_server.http.auth.AccessMiddleware: the Access of a request without the header, to the
    labeling page's API (which takes a share link's token and nothing else, checked there: web.api.share)
    or on its session cookie to the rest of /api/."""

    def opens(scope: Scope) -> Access | None:
        path = scope["path"]
        if path == SHARE_PREFIX or path.startswith(SHARE_PREFIX + "/"):
            return LINK_HOLDER
        if not (path == "/api" or path.startswith("/api/")):
            return None
        value = session_cookie(scope)
        return None if value is None else valid_session(credentials, value)

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


def login_routes(credentials: Credentials) -> list[Route]:
    """GET /login says whether a token is needed, whether this browser is signed in and as which role;
    POST /login with {"token": ...} signs in; POST /logout signs out."""

    async def status(request: Request) -> Response:
        required = credentials.required()
        value = session_cookie(request.scope)
        access = OPERATOR if not required else (None if value is None else valid_session(credentials, value))
        answer = {"token_required": required, "signed_in": access is not None,
                  "role": None if access is None else access.role, "token": None if access is None else access.token_name}  # fmt: skip
        return Response(orjson.dumps(answer), media_type="application/json")

    async def login(request: Request) -> Response:
        try:  # read no further than a token needs: the body is the client's to make endless
            given = (await json_body(request, max_bytes=10_000)).get("token")
        except InvalidArgument as exc:
            return _error(400, str(exc))
        if not credentials.required():
            return _error(400, "this server needs no token: no sign-in is needed.")
        access, why = credentials.access(given.strip().encode()) if isinstance(given, str) else (None, "missing")
        if access is None:
            return _error(401, f"that token is {why}: give the server's token (TRACEJUDGE_TOKEN, --token-file or "
                               "--token) or one made by `tracejudge tokens create`.")  # fmt: skip
        if access.role == "ingest":
            return _error(403, f"{access.describe()} may only send traces; the pages need a read token or higher.")
        token_id = access.token_id or OPERATOR_ID
        found = credentials.session_access(token_id)
        assert found is not None  # the token was active a moment ago
        response = Response(orjson.dumps({"signed_in": True, "role": access.role}), media_type="application/json")
        response.set_cookie(
            COOKIE, session_value(found[1], token_id), max_age=SESSION_HOURS * 3600, path="/", httponly=True,
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
