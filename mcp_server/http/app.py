"""The one HTTP application: MCP at /mcp, OTLP at /v1/traces, GET /health."""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_server.http.auth import BearerTokenMiddleware
from mcp_server.http.deadlines import BodyDeadlineMiddleware
from mcp_server.http.hosts import HostCheckMiddleware
from mcp_server.http.otlp_endpoint import OtlpEndpoint
from mcp_server.http.sessions import SessionLimitMiddleware
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection stays on: only loopback Host headers, plus those configured.

    A server bound to 0.0.0.0 is reached by other names; list them in allowed_hosts
    (--allowed-host / TRACEJUDGE_ALLOWED_HOSTS) rather than switching the check off.
    """
    hosts = [*LOOPBACK_HOSTS, *settings.allowed_hosts]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def create_app(settings: Settings, db: Database) -> Starlette:
    """MCP (streamable HTTP), OTLP ingest and health on one Starlette app over one store."""
    server = create_server(settings, db)
    security = transport_security(settings)
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

    otlp = OtlpEndpoint(db, settings)
    app.router.routes.extend(
        [
            Route("/v1/traces", otlp.handle, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.add_middleware(BodyDeadlineMiddleware, timeout_s=settings.body_timeout_s, min_rate=settings.body_min_rate)
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
    app.add_middleware(HostCheckMiddleware, security=security)
    return app
