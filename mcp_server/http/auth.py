"""Who a request is, for the routes that read or write the store (/mcp, /v1/traces, /v1/logs, /api:
app.GUARDED_PATHS), as a plain ASGI middleware; and what its role lets it reach there.

The bearer token is the server's own (admin, compared in constant time) or a stored token with a role
(mcp_server.access). Its Access goes in the request's scope state (ACCESS) for what is decided further
in: which MCP tools it sees and may call (mcp_server.access.gate), which page writes it may make
(mcp_server.web.api). Here only the coarse cut is made: OTLP needs a role that may ingest, MCP and the
pages' API one that may read.

Every other path passes through unchecked, to /health (so a load balancer or a test can probe it
without the secret), to the gateway (which has its own keys) or to a 404: an MCP client that meets a
401 probes OAuth's discovery paths (/.well-known/oauth-protected-resource,
/.well-known/oauth-authorization-server, /register), and a 401 there too made Claude Code report
"Dynamic Client Registration rejected (HTTP 401)" instead of saying that a bearer token is missing.
A 404 tells it the truth: this server has no OAuth, only tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.access.roles import INGEST_ROLES, OPERATOR, Access
from mcp_server.access.service import Credentials
from mcp_server.http.answers import send_json

ACCESS = "tracejudge.access"
"""The key under which a request's Access is left in its scope state."""
OTLP_PATHS = ("/v1/traces", "/v1/logs")


def bearer_credentials(header: bytes) -> bytes | None:
    """The token of an 'Authorization: Bearer TOKEN' header value, or None for another scheme.

    RFC 7235: the scheme is case-insensitive and is followed by one or more spaces; whitespace
    around the whole value is not part of it (RFC 9110 5.5). Tabs are taken as spaces.
    """
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    return parts[1].strip()


def request_access(scope: Scope) -> Access:
    """The Access AccessMiddleware found for this request; the operator's where none was needed."""
    return scope.get("state", {}).get(ACCESS, OPERATOR)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class AccessMiddleware:
    """`opens`, if given, may give a request without the header an Access on other grounds (the web
    pages' session cookie, mcp_server.web.login)."""

    def __init__(
        self,
        app: ASGIApp,
        credentials: Credentials,
        guarded_paths: Collection[str],
        opens: Callable[[Scope], Access | None] | None = None,
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.guarded_paths = guarded_paths
        self.opens = opens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # '/mcp/' too: it is redirected to /mcp, and nothing below a guarded route goes unguarded.
        path = scope.get("path", "")
        if scope["type"] != "http" or not any(_under(path, guarded) for guarded in self.guarded_paths):
            await self.app(scope, receive, send)
            return
        if not self.credentials.required():
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        access, why = None, "missing"
        if given:
            presented = bearer_credentials(given)
            access, why = self.credentials.access(presented) if presented else (None, "not 'Bearer <token>'")
        elif self.opens is not None:
            access = self.opens(scope)
        if access is None:
            message = (
                f"the Authorization header is {why}; send 'Authorization: Bearer <token>' with a token of this "
                "server: the one it was started with (TRACEJUDGE_TOKEN_FILE or --token-file, TRACEJUDGE_TOKEN, "
                "or --token) or one made by `tracejudge tokens create`."
            )
            challenge = ((b"www-authenticate", b'Bearer realm="tracejudge"'),)
            await send_json(send, 401, {"error": "unauthorized", "message": message}, challenge)
            return
        if (refused := _refusal(path, access)) is not None:
            await send_json(send, 403, {"error": "forbidden", "message": refused})
            return
        scope.setdefault("state", {})[ACCESS] = access
        await self.app(scope, receive, send)


def _refusal(path: str, access: Access) -> str | None:
    if any(_under(path, otlp) for otlp in OTLP_PATHS):
        if access.role in INGEST_ROLES:
            return None
        return (f"sending traces needs an ingest, write or admin token, and this request comes with "
                f"{access.describe()}, which may only look; give the exporter an ingest token "
                "(tracejudge tokens create --role ingest).")  # fmt: skip
    if access.role == "ingest":
        return (f"{access.describe()} may only send traces (OTLP at /v1/traces and /v1/logs); reading them "
                "through MCP or the pages needs a read token or higher (tracejudge tokens create --role read).")  # fmt: skip
    return None
