"""The Anthropic Messages face: POST /gateway/anthropic/v1/messages (streamed or not, tools), to any
route, in Anthropic's shapes; errors as {"type": "error", "error": {"type", "message"}}.

A request is translated to Chat Completions form and back by litellm's own Anthropic adapter
(litellm.llms.anthropic.messages.adapters: what litellm.anthropic.messages uses for providers
other than Anthropic), so both faces share one path: the same limits, fallbacks and recording,
and an anthropic/ route reached through litellm's Anthropic provider. (litellm's native
pass-through stream imports its proxy's FastAPI code, which tracejudge does not install.)
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.service import Gateway
from mcp_server.models.litellm_import import load_litellm

MESSAGES_PARAMETERS = frozenset({
    "model", "messages", "max_tokens", "system", "tools", "tool_choice", "temperature", "top_p", "top_k",
    "stop_sequences", "thinking", "metadata",
})  # fmt: skip


def error_response(exc: GatewayError) -> JSONResponse:
    return JSONResponse(exc.anthropic_body(), status_code=exc.status, headers=exc.headers())


def _adapter() -> Any:
    load_litellm()
    from litellm.llms.anthropic.messages.adapters.transformation import AnthropicAdapter

    return AnthropicAdapter()


def openai_form(body: Any) -> dict[str, Any]:
    """The Chat Completions parameters of a Messages request; GatewayError 400 for a malformed one."""
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_request", "the body is not a JSON object; send a Messages API request.")
    unknown = sorted(set(body) - MESSAGES_PARAMETERS - {"stream"})
    if unknown:
        raise GatewayError(400, "invalid_request", f"the gateway does not forward {unknown}; it forwards "
                           f"{', '.join(sorted(MESSAGES_PARAMETERS))}.")  # fmt: skip
    if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
        raise GatewayError(400, "invalid_request", "a Messages request needs `messages` and an integer `max_tokens`.")
    params = {k: v for k, v in body.items() if k in MESSAGES_PARAMETERS and k != "metadata"}
    try:
        translated = _adapter().translate_completion_input_params(params)
    except (ValueError, TypeError, KeyError) as exc:
        raise GatewayError(400, "invalid_request", f"the Messages request could not be read: {exc}") from None
    request = dict(translated or {})
    request.pop("model", None)
    return request


async def messages(gateway: Gateway, request: Request, body: Any) -> Response:
    """POST /gateway/anthropic/v1/messages."""
    try:
        params = openai_form(body)
        stream = bool(body.get("stream"))
        prepared = await anyio.to_thread.run_sync(
            lambda: gateway.prepare("anthropic", request.headers, body.get("model"), params, stream=stream)
        )
        if not stream:
            response = await gateway.complete(prepared)
            return JSONResponse(_adapter().translate_completion_output_params(response))
        forwarded = await gateway.forward(prepared, stream=True)
        chunks = await gateway.stream(prepared, forwarded)
    except GatewayError as exc:
        return error_response(exc)
    events = _adapter().translate_completion_output_params_streaming(chunks, model=forwarded.route.model.split("/", 1)[-1])
    return StreamingResponse(events, media_type="text/event-stream")
