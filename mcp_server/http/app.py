"""The one HTTP application: MCP at /mcp (and /mcp/<toolsets> for fewer tools), OTLP at /v1/traces and
/v1/logs, GET /health, the AI gateway at /gateway (mcp_server.gateway, authenticated by its own keys),
and the web pages at / with their JSON API at /api/ (mcp_server.web)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import INVALID_REQUEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.access.service import Credentials
from mcp_server.gateway.app import gateway_app
from mcp_server.http.answers import send_json
from mcp_server.http.auth import AccessMiddleware
from mcp_server.http.deadlines import BodyDeadlineMiddleware
from mcp_server.http.hosts import HostCheckMiddleware, accepted_hosts
from mcp_server.http.otlp_endpoint import OtlpEndpoint
from mcp_server.http.otlp_logs import logs_endpoint
from mcp_server.http.sessions import SessionLimitMiddleware
from mcp_server.settings import Settings
from mcp_server.tooling.toolsets import URL_TOOLSETS, requested_toolsets
from mcp_server.web.app import web_app
from mcp_server.web.login import web_opens
from store import Database
from store.logs import PendingLogs

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

OPEN_PATHS = frozenset({"/health"})
"""The routes answered without the Host check and the token: what a load balancer probes."""

GUARDED_PATHS = frozenset({"/mcp", "/v1/traces", "/v1/logs", "/api"})
"""The routes that need a token when the server has one (its own, or any made by `tracejudge tokens create`):
every route that reads or writes the store. The gateway (/gateway) has keys of its own."""


OAUTH_PATHS = ("/.well-known/{rest:path}", "/register", "/authorize", "/token")
"""Where an MCP client looks for OAuth after a 401 (RFC 9728 and RFC 8414 metadata, dynamic client
registration, the default endpoints). This server has none, and says so in a body the client shows."""

NO_OAUTH = (
    "tracejudge has no OAuth: a server started with a token takes it as a header, 'Authorization: Bearer "
    "<token>'. Add it to the client's configuration, e.g. claude mcp add --transport http tracejudge URL "
    "--header \"Authorization: Bearer $TRACEJUDGE_TOKEN\" (examples/clients/README.md has every client's form)."
)


class ToolsetsEndpoint:
    """MCP at /mcp/<toolsets> ('/mcp/traces,judges'): the same endpoint, and the same sessions, as /mcp,
    for a request whose toolsets are all served; they go in the request's state, where
    mcp_server.tooling.toolsets.ToolsetsOfUrl reads them. A client's configuration can give a URL but
    not the server's options, so this is how an HTTP client loads fewer tools.

    A URL naming a toolset the server does not serve is answered 404 with what to ask for instead,
    before any session opens: the client shows the message where the connection fails."""

    def __init__(self, mcp: ASGIApp, served: list[str]) -> None:
        self.mcp = mcp
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            chosen = requested_toolsets(scope["path_params"]["toolsets"], self.served)
        except ValueError as exc:
            error = {"code": INVALID_REQUEST, "message": str(exc)}
            await send_json(send, 404, {"jsonrpc": "2.0", "id": None, "error": error})
            return
        scope.setdefault("state", {})[URL_TOOLSETS] = chosen
        await self.mcp(scope, receive, send)


def transport_security() -> TransportSecuritySettings:
    """The SDK's own Host/Origin check on /mcp is off, because HostCheckMiddleware, which wraps the
    whole app, has already passed every request that reaches /mcp through one exact matcher.

    The SDK's matcher compares prefixes ('127.0.0.1:*' accepts '127.0.0.1:8080.evil.example'), so
    keeping it on could only add a second, looser copy of the policy to keep in step; passing None
    instead would switch it back on for a loopback host.
    """
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def create_app(
    settings: Settings,
    db: Database,
    server: MCPServer,
    judge_server: JudgeServer,
    background: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Starlette:
    """MCP (streamable HTTP) for `server`, OTLP ingest, health and the web pages on one Starlette app over
    one store (`server` is the one mcp_server.server.create_server built over `db`; `judge_server`, what
    an agent judge the pages run investigates through: mcp_server.server.judge_server_for).
    `background` is work that runs while the app serves (the monitors), cancelled as it stops."""
    hosts = accepted_hosts(settings)
    security = transport_security()
    # Sessions are bounded by SessionLimitMiddleware below, which closes the longest-idle one to
    # make room at a bound. The SDK's own bound, which refuses every new session once reached, is
    # the same number: a backstop that SessionLimitMiddleware's count keeps it from ever reaching.
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security,
        host=settings.host,
        session_idle_timeout=settings.session_idle_timeout_s,
        max_sessions=settings.max_sessions,
    )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def no_oauth(request: Request) -> JSONResponse:
        # Claude Code prints this body in `claude mcp list` ("Dynamic Client Registration rejected
        # (HTTP 404): ..."), so the fix reaches the user where the failure shows.
        return JSONResponse({"error": "not_found", "message": NO_OAUTH}, status_code=404)

    span_logs = PendingLogs(
        max_bytes=settings.pending_logs_max_bytes,
        ttl_s=settings.pending_logs_ttl_s,
        max_events_per_span=settings.max_log_events_per_span,
        max_event_bytes_per_span=settings.max_log_event_bytes_per_span,
    )
    otlp = OtlpEndpoint(db, settings)
    (mcp,) = [route.endpoint for route in app.router.routes if isinstance(route, Route) and route.path == "/mcp"]
    app.router.routes.extend(
        [
            Route("/mcp/{toolsets}", ToolsetsEndpoint(mcp, settings.toolsets)),
            Route("/v1/traces", otlp.handle, methods=["POST"]),
            Route("/v1/logs", logs_endpoint(otlp, span_logs), methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            *(Route(path, no_oauth, methods=["GET", "POST"]) for path in OAUTH_PATHS),
            Mount("/gateway", gateway_app(settings, db, judge_server)),  # its own virtual keys, not the token: not in GUARDED_PATHS
            Mount("", web_app(db, settings, judge_server)),  # last: it answers every other path
        ]
    )
    app.add_middleware(
        SessionLimitMiddleware,
        path="/mcp",  # and below it: /mcp/<toolsets> shares the sessions
        max_sessions=settings.max_sessions,
        max_per_client=settings.max_sessions_per_client,
        idle_timeout_s=settings.session_idle_timeout_s,
        max_streams=settings.max_streams,
        max_streams_per_client=settings.max_streams_per_client,
    )
    # add_middleware puts each new one outermost: the Host check runs first, then the token, then
    # the body deadline, which so also bounds the initialize body the session bound reads.
    app.add_middleware(
        BodyDeadlineMiddleware,
        timeout_s=settings.body_timeout_s,
        min_rate=settings.body_min_rate,
        idle_timeout_s=settings.body_idle_timeout_s,
    )
    # Always there: a server without --token needs a token as soon as one is made (tracejudge tokens create).
    credentials = Credentials(db, settings.token)
    app.add_middleware(AccessMiddleware, credentials=credentials, guarded_paths=GUARDED_PATHS, opens=web_opens(credentials))
    app.add_middleware(HostCheckMiddleware, hosts=hosts, open_paths=OPEN_PATHS)
    if background:
        app.router.lifespan_context = _with_background(app.router.lifespan_context, background)
    return app


def _with_background(lifespan: Callable, background: Sequence[Callable[[], Awaitable[None]]]) -> Callable:
    """`lifespan` (the MCP session manager's) with `background` running inside it."""

    @asynccontextmanager
    async def running(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app), anyio.create_task_group() as group:
            for work in background:
                group.start_soon(work)
            try:
                yield
            finally:
                group.cancel_scope.cancel()

    return running
