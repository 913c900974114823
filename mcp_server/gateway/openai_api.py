"""The OpenAI-compatible face: POST /gateway/v1/chat/completions (streamed or not, tools and
tool_calls, response_format passed through) and GET /gateway/v1/models (the routes the key may use).
Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}.

The body's parameters are taken from a list of Chat Completions parameters, never passed on
wholesale: litellm takes api_base, api_key and the like as keyword arguments too, and a client
must not be able to name where its call goes or with which key."""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.service import Gateway

CHAT_PARAMETERS = frozenset({
    "messages", "tools", "tool_choice", "parallel_tool_calls", "response_format", "temperature", "top_p",
    "max_tokens", "max_completion_tokens", "n", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
    "logprobs", "top_logprobs", "seed", "user", "reasoning_effort", "modalities", "prediction", "audio",
    "service_tier", "web_search_options",
})  # fmt: skip
"""Forwarded as the client sent them."""
IGNORED_PARAMETERS = frozenset({"stream", "stream_options", "model", "store", "metadata"})
"""Read here (model, stream) or meant for OpenAI's own dashboard (store, metadata): not forwarded."""


def error_response(exc: GatewayError) -> JSONResponse:
    return JSONResponse(exc.openai_body(), status_code=exc.status, headers=exc.headers())


def chat_request(body: Any) -> dict[str, Any]:
    """The parameters forwarded of a Chat Completions body; GatewayError 400 for one it does not take."""
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_request", "the body is not a JSON object; send a Chat Completions request.")
    unknown = sorted(set(body) - CHAT_PARAMETERS - IGNORED_PARAMETERS)
    if unknown:
        raise GatewayError(400, "invalid_request", f"the gateway does not forward {unknown}; it forwards the Chat "
                           f"Completions parameters {', '.join(sorted(CHAT_PARAMETERS))}.")  # fmt: skip
    return {k: v for k, v in body.items() if k in CHAT_PARAMETERS}


async def chat_completions(gateway: Gateway, request: Request, body: Any) -> Response:
    """POST /gateway/v1/chat/completions."""
    try:
        forwarded_params = chat_request(body)
        stream = bool(body.get("stream"))
        prepared = await anyio.to_thread.run_sync(
            lambda: gateway.prepare("openai", request.headers, body.get("model"), forwarded_params, stream=stream)
        )
        if not stream:
            response = await gateway.complete(prepared)
            return Response(response.model_dump_json(exclude_none=True), media_type="application/json")
        forwarded = await gateway.forward(prepared, stream=True)
        chunks = await gateway.stream(prepared, forwarded)
    except GatewayError as exc:
        return error_response(exc)
    wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    async def events() -> Any:
        async for chunk in chunks:
            if not chunk.choices and not wants_usage:
                continue  # the usage chunk the gateway asked for itself
            yield f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def models(gateway: Gateway, request: Request) -> Response:
    """GET /gateway/v1/models: the routes this key may use, as OpenAI's model list."""
    try:
        key = await anyio.to_thread.run_sync(gateway.key_of, request.headers)
    except GatewayError as exc:
        return error_response(exc)
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "tracejudge-gateway"}
            for name in gateway.usable_routes(key)]  # fmt: skip
    return Response(json.dumps({"object": "list", "data": data}), media_type="application/json")
