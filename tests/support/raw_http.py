"""Raw HTTP requests to a live server with the Host, Origin and Authorization headers a test sets,
as a non-browser client (or a page rebinding its name) would send them."""

from __future__ import annotations

import json

import httpx2

from tests.support.live_server import LiveServer

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
).encode()
BODIES = {"/v1/traces": b'{"resourceSpans": []}', "/v1/logs": b'{"resourceLogs": []}', "/mcp": INITIALIZE}
"""A request each guarded route answers with 200 once it is let through."""


def post(server: LiveServer, path: str, **headers: str) -> httpx2.Response:
    """POST the valid body for `path`, with `headers` (host, origin, authorization) as given."""
    sent = {"content-type": "application/json", "accept": "application/json, text/event-stream", **headers}
    return httpx2.post(f"{server.url}{path}", content=BODIES[path], headers=sent, timeout=10)


def port_of(server: LiveServer) -> str:
    return server.url.rsplit(":", 1)[1]
