"""The one HTTP application: MCP at /mcp, OTLP at /v1/traces and /v1/logs, GET /health."""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_server.http.auth import BearerTokenMiddleware
from mcp_server.http.deadlines import BodyDeadlineMiddleware
from mcp_server.http.hosts import HostCheckMiddleware, accepted_hosts
from mcp_server.http.otlp_endpoint import OtlpEndpoint
from mcp_server.http.otlp_logs import logs_endpoint
from mcp_server.http.sessions import SessionLimitMiddleware
from mcp_server.semconv import attach_events
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database
from store.logs import PendingLogs


def transport_security() -> TransportSecuritySettings:
    """The SDK's own Host/Origin check on /mcp is off, because HostCheckMiddleware, which wraps the
    whole app, has already passed every request that reaches /mcp through one exact matcher.

    The SDK's matcher compares prefixes ('127.0.0.1:*' accepts '127.0.0.1:8080.evil.example'), so
    keeping it on could only add a second, looser copy of the policy to keep in step; passing None
    instead would switch it back on for a loopback host.
    """
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def create_app(settings: Settings, db: Database) -> Starlette:
    """MCP (streamable HTTP), OTLP ingest and health on one Starlette app over one store."""
    hosts = accepted_hosts(settings)
    server = create_server(settings, db)
    security = transport_security()
    # Sessions are bounded by SessionLimitMiddleware below, which closes the longest-idle one at a
    # bound; the SDK's own bound would refuse every new session instead.
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security,
        host=settings.host,
        session_idle_timeout=settings.session_idle_timeout_s,
        max_sessions=None,
    )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    span_logs = PendingLogs(
        attach_events, max_bytes=settings.pending_logs_max_bytes, ttl_s=settings.pending_logs_ttl_s
    )
    otlp = OtlpEndpoint(db, settings, span_logs=span_logs)
    app.router.routes.extend(
        [
            Route("/v1/traces", otlp.handle, methods=["POST"]),
            Route("/v1/logs", logs_endpoint(otlp, span_logs), methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.add_middleware(
        BodyDeadlineMiddleware,
        timeout_s=settings.body_timeout_s,
        min_rate=settings.body_min_rate,
        idle_timeout_s=settings.body_idle_timeout_s,
    )
    app.add_middleware(
        SessionLimitMiddleware,
        path="/mcp",
        max_sessions=settings.max_sessions,
        max_per_client=settings.max_sessions_per_client,
        idle_timeout_s=settings.session_idle_timeout_s,
    )
    # add_middleware puts each new one outermost: the Host check runs first, then the token.
    if settings.token:
        app.add_middleware(BearerTokenMiddleware, token=settings.token)
    app.add_middleware(HostCheckMiddleware, hosts=hosts)
    return app
