"""How `tracejudge serve` runs uvicorn: the process's open-file limit and logging, the event loop,
the connection guard, and the session and stream bounds that must stay below it.

Logging is set up before the MCP server is built, because MCPServer otherwise installs rich's log
handler, which imports a module (opens a file) the first time it formats a traceback: when the
process was out of file descriptors, reporting accept()'s "too many open files" failed the same
way, and that second error ended the event loop. The standard library's handlers never raise.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from mcp_server.http.connections import ConnectionGuard, accept_backlog, connection_cap, raise_open_file_limit
from mcp_server.settings import Settings


@dataclass(frozen=True)
class ProcessLimits:
    open_files_before: int
    open_files: int
    max_connections: int
    backlog: int

    def describe(self) -> str:
        """One line for the operator: the connection cap and where it comes from."""
        raised = (
            f", raised from {self.open_files_before:,}" if self.open_files != self.open_files_before else ""
        )
        return f"at most {self.max_connections:,} at once (open-file limit {self.open_files:,}{raised})"


def prepare_process(settings: Settings) -> ProcessLimits:
    """Raise the open-file limit to the hard limit, install plain stderr logging, size the cap."""
    before, now = raise_open_file_limit()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    cap = connection_cap(settings.max_connections, now)
    return ProcessLimits(before, now, cap, accept_backlog(cap, now))


SHARE_OF_CONNECTIONS = {"max_sessions": 2, "max_streams": 4}
"""The settings bounded by the connection cap, and the fraction of it (one in N) each may take.
Every open GET stream holds a connection for as long as it is open, and every session with a
request in progress at least one: bounded below the cap, they always leave connections for OTLP
exports, new sessions and /health, and the session bound idle sessions to close."""


def fit_to_connections(settings: Settings, limits: ProcessLimits) -> Settings:
    """`settings` with max_sessions and max_streams lowered to their share of the connection cap,
    each lowering logged."""
    lowered: dict[str, int] = {}
    for name, share in SHARE_OF_CONNECTIONS.items():
        most = max(1, limits.max_connections // share)
        if getattr(settings, name) > most:
            logging.getLogger("tracejudge.serve").warning(
                "TRACEJUDGE_%s %s lowered to %s, 1/%s of the connection cap (%s): lower it, or raise the "
                "open-file limit (ulimit -n) and TRACEJUDGE_MAX_CONNECTIONS.",
                name.upper(),
                getattr(settings, name),
                most,
                share,
                limits.max_connections,
            )
            lowered[name] = most
    return settings.model_copy(update=lowered)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The server's event loop (uvicorn's loop factory), whose error reporting cannot end it."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_Reporter().report)
    return loop


OUT_OF_RESOURCES = "socket.accept() out of system resource"
REPEAT_EVERY_S = 10.0


class _Reporter:
    """Reports the loop's errors; accept() running out of descriptors is said once per
    REPEAT_EVERY_S, as Python 3.11 reports it once per socket it fails to accept."""

    def __init__(self) -> None:
        self._said_at = -REPEAT_EVERY_S

    def report(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        try:
            if context.get("message") == OUT_OF_RESOURCES:
                if loop.time() - self._said_at >= REPEAT_EVERY_S:
                    self._said_at = loop.time()
                    logging.getLogger("tracejudge.serve").warning(
                        "%s (%s); accepting resumes as connections close. Raise the open-file limit "
                        "(ulimit -n) or lower TRACEJUDGE_MAX_CONNECTIONS.",
                        OUT_OF_RESOURCES,
                        context.get("exception"),
                    )
                return
            loop.default_exception_handler(context)
        except Exception:
            # Reporting failed (no descriptor left for whatever the handler needed): the error it
            # reported is already handled, so the loop carries on; a short line is all we can add.
            try:
                print(f"tracejudge: {context.get('message', 'error in the event loop')}", file=sys.stderr)
            except OSError:
                pass


def uvicorn_config(app: ASGIApp, settings: Settings, limits: ProcessLimits) -> uvicorn.Config:
    """uvicorn on h11 with the connection guard (whatever else is installed) and the safe loop."""
    guard = ConnectionGuard(limits.max_connections, settings.header_timeout_s)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        http=guard.protocol(),
        backlog=limits.backlog,
        loop=f"{__name__}:new_event_loop",
    )
