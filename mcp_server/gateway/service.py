"""One gateway call from key to trace, whichever API the client speaks (openai_api, anthropic_api):
authenticate the key, resolve the route it named, check its budget and rate limits, put the
messages through the input step, forward down the route's chain, put the answer through the
output step, then count tokens and spend and record the trace.

A call refused before it is forwarded (a bad key, a route it may not use, a limit or budget) is
answered at once and leaves no trace; every forwarded call leaves one, failed ones included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from mcp_server.gateway import budgets
from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.forwarding import ChainFailed, Forwarded, cost_of, forward
from mcp_server.gateway.keys import authenticate, presented_secret, utc_day
from mcp_server.gateway.limits import KeyLimits
from mcp_server.gateway.recording import CallRecord, record_call
from mcp_server.gateway.routes import GatewayConfig, Route
from mcp_server.models.litellm_import import load_litellm
from mcp_server.models.provider_errors import provider_message
from mcp_server.models.token_estimate import estimate_tokens
from store import Database
from store.gateway import KeyRecord

RECORDED_OPTIONS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop")
"""Request parameters copied onto the span as gen_ai.request.<name>."""


def before_forwarding(route: Route, key: KeyRecord, messages: list[Any]) -> list[Any]:
    """The input step: what is forwarded (and recorded) of the client's messages.

    Input guardrails (issue 12, section 2: block, redact, flag) plug in here; for now the messages
    pass unchanged."""
    return messages


def after_answer(route: Route, key: KeyRecord, response: Any) -> Any:
    """The output step: what the client gets (and the trace holds) of the provider's answer.

    Output guardrails plug in here; for now the answer passes unchanged. A streamed answer comes
    here whole once it has ended (its chunks have already gone to the client)."""
    return response


@dataclass
class Prepared:
    key: KeyRecord
    chain: list[Route]
    request: dict[str, Any]
    call: CallRecord
    day: str


class Gateway:
    """The configured gateway over one store; its rate-limit counters live with it (KeyLimits)."""

    def __init__(self, db: Database, config: GatewayConfig, limits: KeyLimits | None = None) -> None:
        self.db = db
        self.config = config
        self.limits = limits or KeyLimits()

    def key_of(self, headers: Mapping[str, str]) -> KeyRecord:
        return authenticate(self.db, presented_secret(headers.get("authorization"), headers.get("x-api-key")))

    def usable_routes(self, key: KeyRecord) -> list[str]:
        return [name for name in key.routes if name in self.config.routes]

    def _route(self, key: KeyRecord, name: Any) -> Route:
        usable = self.usable_routes(key)
        offer = f"this key may use: {', '.join(usable)}" if usable else "this key may use no configured route"
        if not isinstance(name, str) or not name:
            raise GatewayError(400, "invalid_request", f"the request names no route in `model`; {offer}.")
        if name not in self.config.routes:
            raise GatewayError(404, "not_found", f"there is no route {name[:100]!r} on this gateway (`model` names a "
                               f"route the operator configured, not a provider model); {offer}.")  # fmt: skip
        if name not in key.routes:
            raise GatewayError(403, "permission", f"key {key.name!r} may not use route {name!r}; {offer}.")
        return self.config.routes[name]

    def prepare(self, api: str, headers: Mapping[str, str], route_name: Any, request: dict[str, Any], *, stream: bool) -> Prepared:
        """Everything before forwarding; GatewayError for a call that must be refused."""
        key = self.key_of(headers)
        route = self._route(key, route_name)
        day = utc_day()
        budgets.check_budget(self.db, key, day)
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(400, "invalid_request", "the request has no messages; send a non-empty `messages` list.")
        self.limits.admit(key, estimate_tokens([messages, request.get("tools")]) + int(request.get("max_tokens") or 0))
        request = {**request, "messages": before_forwarding(route, key, messages)}
        call = CallRecord(api=api, route=route.name, key_id=key.key_id, key_name=key.name,
                          traceparent=headers.get("traceparent"), stream=stream, request_model=route.model,
                          messages=request["messages"], tools=request.get("tools"),
                          request_options={k: request[k] for k in RECORDED_OPTIONS if request.get(k) is not None})  # fmt: skip
        return Prepared(key, self.config.chain(route.name), request, call, day)

    async def forward(self, prepared: Prepared, *, stream: bool) -> Forwarded:
        """Forward down the chain; a chain that failed is recorded before its error is raised."""
        try:
            forwarded = await forward(prepared.chain, prepared.request, stream=stream)
        except ChainFailed as exc:
            prepared.call.attempts = exc.attempts
            prepared.call.error, prepared.call.status = exc.message, exc.status
            await self._finish(prepared, None)
            raise
        prepared.call.attempts = forwarded.attempts
        prepared.call.answered_by = forwarded.route.name
        prepared.call.request_model = forwarded.route.model
        return forwarded

    async def complete(self, prepared: Prepared) -> Any:
        """A whole answer (litellm's ModelResponse, after the output step), recorded before it is returned."""
        forwarded = await self.forward(prepared, stream=False)
        response = after_answer(forwarded.route, prepared.key, forwarded.response)
        await self._finish(prepared, response, forwarded.route)
        return response

    async def relay(self, prepared: Prepared, forwarded: Forwarded) -> AsyncIterator[Any]:
        """The stream's chunks as they come; once it ends (or breaks, or the client goes away) the
        answer is assembled from what arrived, put through the output step and recorded."""
        chunks: list[Any] = []
        ended = False
        reported = None  # the provider's own usage (stream_options.include_usage), rather than litellm's count
        try:
            async for chunk in forwarded.response:
                chunks.append(chunk)
                if getattr(getattr(chunk, "usage", None), "prompt_tokens", None) is not None:
                    reported = chunk.usage
                yield chunk
            ended = True
        except Exception as exc:  # the provider broke off mid-stream: the client has what came
            prepared.call.error, prepared.call.status = f"the stream broke off: {provider_message(exc)}", 502
        finally:
            if not ended and prepared.call.error is None:
                prepared.call.error, prepared.call.status = "the client went away before the answer ended", 499
            # Shielded: a client that went away cancels this task, and what arrived must still be stored.
            with anyio.CancelScope(shield=True):
                response = _assembled(chunks, prepared.request["messages"])
                if response is not None:
                    if reported is not None:
                        response.usage = reported
                    response = after_answer(forwarded.route, prepared.key, response)
                await self._finish(prepared, response, forwarded.route)

    async def _finish(self, prepared: Prepared, response: Any, route: Route | None = None) -> None:
        call = prepared.call
        if response is not None:
            _describe_answer(call, response)
        tokens_in, tokens_out = call.input_tokens or 0, call.output_tokens or 0
        if response is not None and route is not None:
            call.cost_usd, call.cost_note = cost_of(response, route, tokens_in, tokens_out)
        self.limits.count_tokens(prepared.key, tokens_in + tokens_out)

        def store() -> None:
            budgets.charge(self.db, prepared.key, prepared.day, call.route, input_tokens=tokens_in,
                           output_tokens=tokens_out, cost_usd=call.cost_usd or 0.0, error=call.error is not None)  # fmt: skip
            record_call(self.db, call)

        await anyio.to_thread.run_sync(store)


def _assembled(chunks: list[Any], messages: list[Any]) -> Any:
    if not chunks:
        return None
    try:
        return load_litellm().stream_chunk_builder(chunks, messages=messages)
    except Exception:  # a stream cut before its first whole chunk: nothing to assemble
        return None


def _describe_answer(call: CallRecord, response: Any) -> None:
    """The answer's message, model, finish reason and usage onto the call's record."""
    choices = getattr(response, "choices", None) or []
    if choices:
        choice = choices[0]
        message = choice.message
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if getattr(message, "tool_calls", None):
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
                for c in message.tool_calls
            ]  # fmt: skip
        call.output_messages = [out]
        call.finish_reason = choice.finish_reason
    call.response_model = getattr(response, "model", None)
    usage = getattr(response, "usage", None)
    if usage is not None:
        call.input_tokens = getattr(usage, "prompt_tokens", None)
        call.output_tokens = getattr(usage, "completion_tokens", None)
