"""A scripted HTTP server's lifecycle: http.server in a daemon thread on 127.0.0.1, the port bound
before start() returns (nothing to poll), each connection in a thread of its own (a slow answer never
blocks the next request). The scripted providers (scripted_openai, scripted_anthropic) are made of it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class _Server(ThreadingHTTPServer):
    # http.server listens with a queue of 5: 32 clients connecting at once (every answer closes its
    # connection) would see the kernel drop some, each costing a 1 s retransmission. A real provider
    # keeps connections alive and accepts them all.
    request_queue_size = 128
    daemon_threads = True


class LoopbackServer:
    """Subclasses name their request handler; each handler class made here has `scripted` set to the
    server object, which is how it reaches the script."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the server first"
        return self._httpd.server_address[1]

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"scripted": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
