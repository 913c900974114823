"""Raw HTTP requests to a live server with the Host, Origin and Authorization headers a test sets,
as a non-browser client (or a page rebinding its name) would send them; and bodies that start and
then stall, as a slow (or hostile) client sends them."""

from __future__ import annotations

import json
import socket

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


def stalled_body(
    server: LiveServer,
    path: str,
    first_bytes: bytes,
    *,
    content_length: int | None = None,
    source: str = "127.0.0.1",
    **headers: str,
) -> socket.socket:
    """A connection (from the loopback address `source`) that sends a POST's headers and the first
    bytes of its body, then nothing more: chunked, or with `content_length` announced when given.
    Nothing on the client side has to run for the server to keep holding what it sent."""
    port = int(port_of(server))
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    sent = {"content-type": "application/json", "accept": "application/json, text/event-stream", **headers}
    if content_length is None:
        sent["transfer-encoding"] = "chunked"
        body = f"{len(first_bytes):x}\r\n".encode() + first_bytes + b"\r\n" if first_bytes else b""
    else:
        sent["content-length"] = str(content_length)
        body = first_bytes
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in sent.items())
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def answer_of(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """The status, headers and JSON body the server sends on `sock` before it closes the connection
    (or its 30 s timeout passes)."""
    data = b""
    while not _complete(data) and (chunk := sock.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), fields, json.loads(body)


def _complete(data: bytes) -> bool:
    """Whether `data` holds a whole response with a Content-Length (the server may keep the connection
    open after an early answer, still reading the body it refused)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False
