"""A real tracejudge HTTP server (uvicorn over create_app) on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx2
import uvicorn

from mcp_server.http.app import create_app
from mcp_server.server import create_server, judge_server_for
from mcp_server.settings import Settings
from mcp_server.terminal.commands import open_database
from store import Database


@dataclass
class LiveServer:
    url: str
    db: Database
    settings: Settings
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.db.close()


def start_live_server(settings: Settings) -> LiveServer:
    """Start the app on 127.0.0.1 with an OS-chosen port; returns once /health answers."""
    db = open_database(settings)
    mcp = create_server(settings, db)
    app = create_app(settings, db, mcp, judge_server_for(mcp, settings, db))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and server.servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start within 20 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    live = LiveServer(f"http://127.0.0.1:{port}", db, settings, server, thread)
    httpx2.get(f"{live.url}/health", timeout=5).raise_for_status()
    return live
