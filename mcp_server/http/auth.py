"""Bearer-token check for /mcp and /v1/traces, as a plain ASGI middleware.

The token is compared in constant time. /health stays open so a load balancer or a test can
probe it without the secret.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})


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
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        credentials = bearer_credentials(given)
        if credentials is not None and hmac.compare_digest(credentials, self._expected):
            await self.app(scope, receive, send)
            return
        reason = "missing" if not given else "wrong"
        body = json.dumps(
            {
                "error": "unauthorized",
                "message": f"the Authorization header is {reason}; send 'Authorization: Bearer <token>' "
                "with the token the server was started with (TRACEJUDGE_TOKEN_FILE or --token-file, "
                "TRACEJUDGE_TOKEN, or --token).",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="tracejudge"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
