"""The one HTTP application: MCP at /mcp, OTLP at /v1/traces and /v1/logs, GET /health."""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_server.http.auth import BearerTokenMiddleware
from mcp_server.http.hosts import HostCheckMiddleware, accepted_hosts
from mcp_server.http.otlp_endpoint import OtlpEndpoint
from mcp_server.http.otlp_logs import LOGS
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
    app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=settings.host)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    span_logs = PendingLogs(
        attach_events, max_bytes=settings.pending_logs_max_bytes, ttl_s=settings.pending_logs_ttl_s
    )
    otlp = OtlpEndpoint(db, max_body_bytes=settings.max_body_bytes, span_logs=span_logs)
    app.router.routes.extend(
        [
            Route("/v1/traces", otlp.handle, methods=["POST"]),
            Route("/v1/logs", otlp.handler(LOGS), methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    # add_middleware puts each new one outermost: the Host check runs first, then the token.
    if settings.token:
        app.add_middleware(BearerTokenMiddleware, token=settings.token)
    app.add_middleware(HostCheckMiddleware, hosts=hosts)
    return app
