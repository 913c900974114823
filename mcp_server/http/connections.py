"""Bounding HTTP connections below the open-file limit, and closing idle ones.

uvicorn's own limit_concurrency answers 503 over its cap but still accepts every socket, and its
h11 protocol has no deadline for a request's headers: a client that opens a connection and sends
half a header line keeps a file descriptor for ever. Enough of them (about 1,100 under the common
`ulimit -n 1024`) and accept() fails for everyone. GuardedH11Protocol adds what is missing:

- a connection must send a request's headers within header_timeout_s of opening, or of its last
  response, or it is closed;
- at most max_connections are open at once; at the cap, a new connection closes the connection
  idle the longest (waiting for headers: the one a slowloris holds) instead of being turned away,
  and only when every connection is busy with a request is the newcomer answered 503 and closed.

A busy connection is never closed here: its body has a deadline of its own (deadlines.py).
"""

from __future__ import annotations

import asyncio
import json
import resource
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

FD_RESERVE = 128
"""Descriptors kept free of connections, at least: for the rest of the process (the SQLite files
of the writer and of each reader thread, the listening socket, logs, pipes) and for sockets
accepted but not yet counted (see accept_backlog). A quarter of a larger limit is kept free."""


def connection_cap(max_connections: int, open_file_limit: int) -> int:
    """max_connections, lowered to fit under the open-file limit with the reserve to spare."""
    reserve = max(FD_RESERVE, open_file_limit // 4)
    return max(1, min(max_connections, max(open_file_limit - reserve, open_file_limit // 2)))


def accept_backlog(max_connections: int, open_file_limit: int) -> int:
    """The listen backlog, which asyncio also uses as the most sockets it accepts in one go.

    Connections are counted (and idle ones closed) only once accepted, two or three loop
    iterations after accept(), and a closed one frees its descriptor an iteration later: a burst
    of 2,048 accepts (uvicorn's default) would run out of descriptors first. Measured under a flood
    of connections, about three bursts are in flight at once; an eighth of the descriptors left
    above the cap keeps them well within it.
    """
    return max(8, min(2048, (open_file_limit - max_connections) // 8))


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit before and after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit (macOS) cannot be the soft one; 65,536 is plenty for one server.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, target
    return soft, soft


class ConnectionGuard:
    """What every connection of one server shares: the cap, the deadline, who is idle."""

    def __init__(self, max_connections: int, header_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        # Connections waiting for a request's headers, the longest-waiting first (dicts keep order).
        self.idle: dict[GuardedH11Protocol, None] = {}

    def protocol(self) -> type[H11Protocol]:
        """The protocol class to give uvicorn.Config(http=...)."""
        return type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": self})


_BUSY_BODY = json.dumps(
    {
        "error": "busy",
        "message": "the server has as many connections as it can hold, all of them busy; retry shortly.",
    }
).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class GuardedH11Protocol(H11Protocol):
    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._served_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.guard.max_connections:
            if self.guard.idle:
                next(iter(self.guard.idle))._close_idle()
            else:
                transport.write(_BUSY)
                transport.close()
                return
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._served_cycle:
            self._serving()  # the headers arrived: a request is in progress

    def on_response_complete(self) -> None:
        served = self.cycle
        super().on_response_complete()
        # Unless a pipelined request was already read and started, wait for the next one.
        if self.cycle is served and not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._serving()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._serving()
        self._served_cycle = self.cycle
        self.guard.idle[self] = None
        self._header_timer = self.loop.call_later(self.guard.header_timeout_s, self._close_idle)

    def _serving(self) -> None:
        self.guard.idle.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _close_idle(self) -> None:
        self._serving()
        if not self.transport.is_closing():
            self.transport.close()
