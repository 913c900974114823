"""DNS-rebinding protection for every route, /v1/traces included.

The MCP SDK checks Host and Origin on /mcp only; without the same check on /v1/traces, a web page
that rebinds its own name to 127.0.0.1 could write prompt-injected traces that a judge later
reads. Patterns are the SDK's: exact values, or 'host:*' for any port.
"""

from __future__ import annotations

import json

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})


def _allowed(value: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if value == pattern or (pattern.endswith(":*") and value.startswith(pattern[:-1])):
            return True
    return False


class HostCheckMiddleware:
    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not _allowed(host, self.security.allowed_hosts):
            fix = f"start the server with --allowed-host {host or 'NAME:PORT'} to accept it"
            await _refuse(send, 421, f"Host {host!r} is not allowed; {fix}.")
            return
        if origin and not _allowed(origin, self.security.allowed_origins):
            await _refuse(send, 403, f"Origin {origin!r} is not allowed: pages on other sites may not call this server.")
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": "forbidden", "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
