"""Bearer-token check for the routes that read or write the store (/mcp, /v1/traces, /v1/logs, /api:
app.GUARDED_PATHS), as a plain ASGI middleware.

The token is compared in constant time. Every other path passes through unchecked, to /health
(so a load balancer or a test can probe it without the secret) or to a 404: an MCP client that
meets a 401 probes OAuth's discovery paths (/.well-known/oauth-protected-resource,
/.well-known/oauth-authorization-server, /register), and a 401 there too made Claude Code report
"Dynamic Client Registration rejected (HTTP 401)" instead of saying that a bearer token is
missing. A 404 tells it the truth: this server has no OAuth, only the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.http.answers import send_json


def bearer_credentials(header: bytes) -> bytes | None:
    """The token of an 'Authorization: Bearer TOKEN' header value, or None for another scheme.

    RFC 7235: the scheme is case-insensitive and is followed by one or more spaces; whitespace
    around the whole value is not part of it (RFC 9110 5.5). Tabs are taken as spaces.
    """
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    return parts[1].strip()


class BearerTokenMiddleware:
    """`opens`, if given, may let a request without the header pass on other grounds (the web pages'
    session cookie, mcp_server.web.login)."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        guarded_paths: Collection[str],
        opens: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self._expected = token.encode()
        self.guarded_paths = guarded_paths
        self.opens = opens

    def _guards(self, path: str) -> bool:
        # '/mcp/' too: it is redirected to /mcp, and nothing below a guarded route goes unguarded.
        return any(path == guarded or path.startswith(guarded + "/") for guarded in self.guarded_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        credentials = bearer_credentials(given)
        if (credentials is not None and hmac.compare_digest(credentials, self._expected)) or (
            not given and self.opens is not None and self.opens(scope)
        ):
            await self.app(scope, receive, send)
            return
        reason = "missing" if not given else "wrong"
        message = (
            f"the Authorization header is {reason}; send 'Authorization: Bearer <token>' with the token the "
            "server was started with (TRACEJUDGE_TOKEN_FILE or --token-file, TRACEJUDGE_TOKEN, or --token)."
        )
        challenge = ((b"www-authenticate", b'Bearer realm="tracejudge"'),)
        await send_json(send, 401, {"error": "unauthorized", "message": message}, challenge)
