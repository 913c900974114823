"""The gateway's HTTP routes, mounted at /gateway on the one app (mcp_server.http.app):
/gateway/v1/chat/completions, /gateway/v1/models and /gateway/anthropic/v1/messages.

They are authenticated by the gateway's virtual keys alone (mcp_server.gateway.keys), not by the
server's token: /gateway is not among app.GUARDED_PATHS. Bodies are read within
gateway_max_body_bytes and a shared memory budget (mcp_server.http.body) and, as every body, within
the body deadline (mcp_server.http.deadlines); a forwarded call is bounded by its route's timeout_s.
A server started without a gateway configuration answers 404 here, saying how to configure one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from mcp_server.gateway import anthropic_api, openai_api
from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.routes import load_config
from mcp_server.gateway.service import Gateway
from mcp_server.http.body import BodyBudget, BodyTooLarge, BudgetExhausted, CorruptBody, UnsupportedEncoding, read_body
from mcp_server.settings import Settings
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

NOT_CONFIGURED = (
    "this server has no AI gateway configured; start it with `tracejudge serve --gateway-config routes.toml` (or "
    "TRACEJUDGE_GATEWAY_CONFIG=routes.toml), a TOML file of [routes.NAME] tables (model, api_base, api_key_env), and "
    "make a key with `tracejudge keys create --name NAME --routes NAME`."
)


def gateway_app(settings: Settings, db: Database, judge_server: JudgeServer | None = None) -> Router:
    """The /gateway routes over `db`; the configuration file is read (and a bad one refused) here, at startup.
    `judge_server`: what an agent judge used as a guardrail investigates through."""
    if settings.gateway_config is None:
        return Router(routes=[Route("/{rest:path}", _not_configured, methods=["GET", "POST"])])
    gateway = Gateway(db, load_config(settings.gateway_config), settings=settings, judge_server=judge_server)
    budget = BodyBudget(settings.max_buffered_body_bytes, settings.max_buffered_body_bytes_per_client
                        or settings.max_buffered_body_bytes // 2)  # fmt: skip

    def with_body(face: Any, handle: Callable[[Gateway, Request, Any], Awaitable[Response]]) -> Callable:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else ""
            try:
                with budget.hold(client) as holding:
                    raw = await read_body(request, settings.gateway_max_body_bytes, holding)
                try:
                    body = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise GatewayError(400, "invalid_request", f"the body is not JSON ({exc}); send a JSON object.") from None
            except ClientDisconnect:
                return Response(status_code=499)
            except BodyTooLarge:
                return face.error_response(GatewayError(413, "too_large", f"the request body exceeds the gateway's limit "
                                           f"of {settings.gateway_max_body_bytes:,} bytes (TRACEJUDGE_GATEWAY_MAX_BODY_BYTES); "
                                           "send fewer or smaller messages."))  # fmt: skip
            except BudgetExhausted as exc:
                return face.error_response(GatewayError(503, "unavailable", str(exc), retry_after_s=1))
            except (UnsupportedEncoding, CorruptBody) as exc:
                return face.error_response(GatewayError(400, "invalid_request", str(exc)))
            except GatewayError as exc:
                return face.error_response(exc)
            return await handle(gateway, request, body)

        return endpoint

    async def models(request: Request) -> Response:
        return await openai_api.models(gateway, request)

    async def unknown(request: Request) -> Response:
        face = anthropic_api if request.url.path.startswith("/gateway/anthropic") else openai_api
        return face.error_response(GatewayError(404, "not_found", f"the gateway has no {request.method} "
                                   f"{request.url.path}; it serves POST /gateway/v1/chat/completions, GET "
                                   "/gateway/v1/models and POST /gateway/anthropic/v1/messages."))  # fmt: skip

    return Router(routes=[
        Route("/v1/chat/completions", with_body(openai_api, openai_api.chat_completions), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/anthropic/v1/messages", with_body(anthropic_api, anthropic_api.messages), methods=["POST"]),
        Route("/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ])  # fmt: skip


async def _not_configured(request: Request) -> JSONResponse:
    if request.url.path.startswith("/gateway/anthropic"):
        return JSONResponse({"type": "error", "error": {"type": "not_found_error", "message": NOT_CONFIGURED}}, 404)
    return JSONResponse({"error": {"message": NOT_CONFIGURED, "type": "invalid_request_error", "param": None,
                                   "code": "gateway_not_configured"}}, 404)  # fmt: skip
