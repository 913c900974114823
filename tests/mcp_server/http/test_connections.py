"""`tracejudge serve` under a low open-file limit: more idle and half-sent connections than it has
file descriptors, and it still answers /health and real exports, and stays up."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import httpx2
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.processes import serve

pytestmark = pytest.mark.slow

VERSION = "2025-06-18"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def _export_one_span(url: str, name: str) -> None:
    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=10)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("agent").start_as_current_span(name):
        pass
    provider.shutdown()


def _stored(db: Path, name: str) -> bool:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM spans WHERE name = ?", (name,)).fetchone()[0] == 1


def test_more_half_sent_connections_than_file_descriptors_leave_the_server_serving(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    output: list[str] = []
    with serve(db, open_files=(256, 256), output=output) as url:
        port = int(url.rsplit(":", 1)[1])
        held = []
        try:
            for i in range(400):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                # Idle sockets, and sockets stuck half way through a request's headers.
                if i % 2:
                    sock.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Ty".encode())
                held.append(sock)
            assert httpx2.get(f"{url}/health", timeout=10).status_code == 200
            _export_one_span(url, "while 400 sockets are held")
            assert _stored(db, "while 400 sockets are held")
        finally:
            for sock in held:
                sock.close()
        assert httpx2.get(f"{url}/health", timeout=10).status_code == 200
        _export_one_span(url, "after")
        assert _stored(db, "after")
    assert "at most 128 at once (open-file limit 256)" in output[0]


def test_serve_raises_its_open_file_limit_to_the_hard_limit_and_says_so(tmp_path: Path) -> None:
    output: list[str] = []
    with serve(tmp_path / "t.db", open_files=(200, 512), output=output) as url:
        assert httpx2.get(f"{url}/health", timeout=10).status_code == 200
    assert "at most 384 at once (open-file limit 512, raised from 200)" in output[0]


def test_a_connection_that_never_finishes_its_headers_is_closed(tmp_path: Path) -> None:
    with serve(tmp_path / "t.db", env={"TRACEJUDGE_HEADER_TIMEOUT_S": "1"}) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert sock.recv(1024) == b""  # closed by the server (our own 30 s timeout would raise)


EMFILE_SERVER = """
import asyncio, resource, sys
from mcp.server.mcpserver import MCPServer
from mcp_server.http.serving import new_event_loop, prepare_process
from mcp_server.settings import Settings

resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
prepare_process(Settings())
MCPServer("x")  # would install rich's log handler, had logging not been set up first
held = []
releasing = []

async def serve(reader, writer):
    writer.write(b"hi")
    if releasing:
        writer.close()
        return
    held.append(writer)
    if await reader.read(1) == b"x":  # the client's word: from now on, free every descriptor
        releasing.append(True)
        for w in held:
            w.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(120)

loop = new_event_loop()
loop.run_until_complete(main())
"""


def test_the_event_loop_survives_running_out_of_descriptors_on_accept_and_says_so_once() -> None:
    """What serve's connection cap normally prevents: accept() failing with EMFILE. It is reported
    (rich's handler, which opened a file to do so, used to end the loop) and accepting resumes."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sockets: list[socket.socket] = []
    try:
        port = int(process.stdout.readline())
        sockets.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        assert sockets[0].recv(2) == b"hi"
        sockets += [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(100)]
        sockets[0].sendall(b"x")
        assert sockets[-1].recv(2) == b"hi"  # accepted once descriptors were free again
        assert process.poll() is None
    finally:
        for sock in sockets:
            sock.close()
        process.kill()
        _, errors = process.communicate(timeout=30)
    assert errors.count("socket.accept() out of system resource") == 1, errors
    assert "Raise the open-file limit" in errors and "Traceback" not in errors


def test_serve_keeps_sessions_and_streams_below_the_connection_cap_and_says_so(tmp_path: Path) -> None:
    """With 8 connections, at most 4 sessions (half) and 2 GET streams (a quarter): a fifth session
    closes the longest-idle one although TRACEJUDGE_MAX_SESSIONS asks for 1,000."""
    output: list[str] = []
    env = {"TRACEJUDGE_MAX_CONNECTIONS": "8", "TRACEJUDGE_MAX_SESSIONS": "1000", "TRACEJUDGE_MAX_STREAMS": "1000"}
    with serve(tmp_path / "t.db", env=env, output=output) as url, httpx2.Client(timeout=30) as http:
        headers = {"accept": "application/json, text/event-stream"}
        opened = []
        for _ in range(5):
            response = http.post(f"{url}/mcp", json=INITIALIZE, headers=headers)
            assert response.status_code == 200, response.text
            opened.append(response.headers["mcp-session-id"])
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        alive = [
            http.post(
                f"{url}/mcp", json=ping, headers={**headers, "mcp-session-id": s, "mcp-protocol-version": VERSION}
            ).status_code
            for s in opened
        ]
        assert alive == [404, 200, 200, 200, 200]
    assert "TRACEJUDGE_MAX_SESSIONS 1000 lowered to 4" in output[0]
    assert "TRACEJUDGE_MAX_STREAMS 1000 lowered to 2" in output[0]
