"""One gateway call from key to trace, whichever API the client speaks (openai_api, anthropic_api):
authenticate the key, resolve the route it named, check its budget and rate limits, put the
messages through the input guardrails, forward down the route's chain, put the answer through the
output guardrails, then count tokens and spend and record the trace with the guardrails' decisions
(mcp_server.guardrails: block refuses with 400 naming the guardrail, redact changes what the
provider receives, the client gets and the trace holds, flag records and lets it pass).

A call refused before it is forwarded (a bad key, a route it may not use, a limit or budget) is
answered at once and leaves no trace; every forwarded call leaves one, failed ones included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from mcp_server.gateway import budgets
from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.forwarding import ChainFailed, Forwarded, cost_of, forward
from mcp_server.gateway.keys import authenticate, presented_secret, utc_day
from mcp_server.gateway.limits import KeyLimits
from mcp_server.gateway.recording import CallRecord, record_call
from mcp_server.gateway.routes import GatewayConfig, Route
from mcp_server.guardrails.config import GuardrailSpec
from mcp_server.guardrails.service import GuardrailOutcome, JudgeContext, apply_guardrails
from mcp_server.models.litellm_import import load_litellm
from mcp_server.models.provider_errors import provider_message
from mcp_server.models.token_estimate import estimate_tokens
from mcp_server.settings import Settings
from store import Database
from store.gateway import KeyRecord

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

RECORDED_OPTIONS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop")
"""Request parameters copied onto the span as gen_ai.request.<name>."""


@dataclass
class Prepared:
    key: KeyRecord
    chain: list[Route]
    request: dict[str, Any]
    call: CallRecord
    day: str
    guardrails: list[GuardrailSpec]
    """The route's and the key's, in order (GatewayConfig.guardrails_for)."""

    def guarded(self, stage: str) -> list[GuardrailSpec]:
        return [spec for spec in self.guardrails if stage in spec.stages]


class Gateway:
    """The configured gateway over one store; its rate-limit counters live with it (KeyLimits)."""

    def __init__(self, db: Database, config: GatewayConfig, limits: KeyLimits | None = None, *,
                 settings: Settings | None = None, judge_server: JudgeServer | None = None) -> None:  # fmt: skip
        """`settings` and `judge_server`: what a judge guardrail runs with (mcp_server.guardrails.judge_check)."""
        self.db = db
        self.config = config
        self.limits = limits or KeyLimits()
        self.settings = settings
        self.judge_server = judge_server

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
        request = {**request, "messages": messages}
        call = CallRecord(api=api, route=route.name, key_id=key.key_id, key_name=key.name,
                          traceparent=headers.get("traceparent"), stream=stream, request_model=route.model,
                          messages=request["messages"], tools=request.get("tools"),
                          request_options={k: request[k] for k in RECORDED_OPTIONS if request.get(k) is not None})  # fmt: skip
        return Prepared(key, self.config.chain(route.name), request, call, day,
                        self.config.guardrails_for(route, key.guardrails))  # fmt: skip

    async def _guard(self, prepared: Prepared, stage: str, messages: list[Any]) -> GuardrailOutcome:
        """`stage`'s guardrails on `messages`, their decisions kept on the call's record. A judge
        guardrail judges the call's trace, so the span is written (as it stands) before one runs."""
        specs = prepared.guarded(stage)
        judging = None
        if any(spec.kind == "judge" for spec in specs):
            await anyio.to_thread.run_sync(record_call, self.db, prepared.call)
            if self.settings is not None:
                judging = JudgeContext(self.db, self.settings, self.judge_server, prepared.call.trace_id)
        outcome = await apply_guardrails(specs, stage, messages, judging=judging)  # type: ignore[arg-type]
        prepared.call.decisions += outcome.decisions
        return outcome

    async def _refuse(self, prepared: Prepared, stage: str, outcome: GuardrailOutcome, response: Any = None,
                      route: Route | None = None) -> GatewayError:  # fmt: skip
        """Record a call a guardrail blocked (personal data in what is stored redacted, as a redact
        guardrail would leave it) and the error its caller gets."""
        blocked = outcome.blocked
        assert blocked is not None
        call = prepared.call
        stored = call.messages if stage == "input" else call.output_messages
        pii_specs = [spec.model_copy(update={"action": "redact"}) for spec in prepared.guarded(stage) if spec.kind == "pii"]
        if pii_specs:
            stored = (await apply_guardrails(pii_specs, stage, stored)).messages  # type: ignore[arg-type]
        what = "request" if stage == "input" else "answer"
        call.error, call.status = f"the {what} was blocked by the guardrail {blocked.guardrail!r}", 400
        if stage == "input":
            call.messages = stored
        await self._finish(prepared, response, route, output=stored if stage == "output" else None)
        return GatewayError(400, "guardrail", f"the {what} was refused by the guardrail {blocked.guardrail!r} "
                            f"({blocked.kind}, {stage}): {blocked.detail}.")  # fmt: skip

    async def forward(self, prepared: Prepared, *, stream: bool) -> Forwarded:
        """Put the messages through the input guardrails, then forward down the chain; a chain that
        failed, or a request a guardrail blocked, is recorded before its error is raised."""
        if prepared.guarded("input"):
            outcome = await self._guard(prepared, "input", prepared.request["messages"])
            if outcome.blocked is not None:
                raise await self._refuse(prepared, "input", outcome)
            # What the provider receives and the trace holds: the messages as the guardrails left them.
            prepared.request["messages"] = prepared.call.messages = outcome.messages
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

    async def _guard_answer(self, prepared: Prepared, response: Any, route: Route) -> Any:
        """The answer after the output guardrails (redacted in place where one redacts); GatewayError,
        once the call is recorded, where one blocks."""
        if not prepared.guarded("output"):
            return response
        _describe_answer(prepared.call, response)
        outcome = await self._guard(prepared, "output", prepared.call.output_messages)
        if outcome.blocked is not None:
            raise await self._refuse(prepared, "output", outcome, response, route)
        if outcome.messages != prepared.call.output_messages:
            _replace_answer(response, outcome.messages[0])
        return response

    async def complete(self, prepared: Prepared) -> Any:
        """A whole answer (litellm's ModelResponse, after the output guardrails), recorded before it is returned."""
        forwarded = await self.forward(prepared, stream=False)
        response = await self._guard_answer(prepared, forwarded.response, forwarded.route)
        await self._finish(prepared, response, forwarded.route)
        return response

    async def buffered(self, prepared: Prepared, forwarded: Forwarded) -> list[Any]:
        """A streamed answer held back whole until the output guardrails have seen it (a stream's
        chunks cannot be called back once sent): its chunks, rewritten where a guardrail redacted,
        recorded; GatewayError before any chunk is sent where one blocks."""
        chunks = []
        try:
            async for chunk in forwarded.response:
                chunks.append(chunk)
        except Exception as exc:  # the provider broke off mid-stream: nothing was sent, so say so plainly
            message = f"the provider's stream broke off: {provider_message(exc)}"
            prepared.call.error, prepared.call.status = message, 502
            await self._finish(prepared, None, forwarded.route)
            raise GatewayError(502, "upstream", f"{message}; try again.") from None
        response = _assembled(chunks, prepared.request["messages"])
        if response is None:
            await self._finish(prepared, None, forwarded.route)
            return chunks
        reported = next((c.usage for c in reversed(chunks) if getattr(getattr(c, "usage", None), "prompt_tokens", None)
                         is not None), None)  # fmt: skip
        if reported is not None:
            response.usage = reported
        before = _answer_message(response)
        response = await self._guard_answer(prepared, response, forwarded.route)
        if (after := _answer_message(response)) != before:
            chunks = _rewritten(chunks, after)
        await self._finish(prepared, response, forwarded.route)
        return chunks

    async def stream(self, prepared: Prepared, forwarded: Forwarded) -> AsyncIterator[Any]:
        """The chunks to send of a streamed answer: held back for the output guardrails (`buffered`,
        whose GatewayError comes here, before any is sent) or relayed as they come."""
        if not prepared.guarded("output"):
            return self.relay(prepared, forwarded)
        chunks = await self.buffered(prepared, forwarded)

        async def replay() -> AsyncIterator[Any]:
            for chunk in chunks:
                yield chunk

        return replay()

    async def relay(self, prepared: Prepared, forwarded: Forwarded) -> AsyncIterator[Any]:
        """The stream's chunks as they come, for a call with no output guardrail (else `buffered`);
        once it ends (or breaks, or the client goes away) the answer is assembled from what arrived and
        recorded."""
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
                if response is not None and reported is not None:
                    response.usage = reported
                await self._finish(prepared, response, forwarded.route)

    async def _finish(self, prepared: Prepared, response: Any, route: Route | None = None, *,
                      output: list[Any] | None = None) -> None:  # fmt: skip
        """Count the call's tokens and spend and record it; `output`: what to store of the answer instead
        of `response`'s message (a blocked answer, redacted)."""
        call = prepared.call
        if response is not None:
            _describe_answer(call, response)
        if output is not None:
            call.output_messages = output
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


def _answer_message(response: Any) -> dict[str, Any] | None:
    """The first choice's message as an OpenAI chat message (what guardrails and the trace see)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        return None
    message = choices[0].message
    out: dict[str, Any] = {"role": "assistant", "content": message.content}
    if getattr(message, "tool_calls", None):
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls
        ]  # fmt: skip
    return out


def _replace_answer(response: Any, message: dict[str, Any]) -> None:
    """Put a guardrail's redacted message back into `response`'s first choice."""
    target = response.choices[0].message
    target.content = message.get("content")
    for call, redacted in zip(getattr(target, "tool_calls", None) or [], message.get("tool_calls") or [], strict=False):
        call.function.arguments = redacted["function"]["arguments"]


def _rewritten(chunks: list[Any], message: dict[str, Any]) -> list[Any]:
    """Stream chunks carrying `message` (the answer as a guardrail redacted it): the whole content, and
    each tool call's whole arguments, in the first chunk that carried a piece of them; '' in the rest."""
    content_done, arguments_done = False, set()
    redacted_args = [c["function"]["arguments"] for c in message.get("tool_calls") or []]
    for chunk in chunks:
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if getattr(delta, "content", None):
                delta.content = "" if content_done else (message.get("content") or "")
                content_done = True
            for call in getattr(delta, "tool_calls", None) or []:
                index = call.index or 0
                if call.function is not None and call.function.arguments and index < len(redacted_args):
                    call.function.arguments = "" if index in arguments_done else redacted_args[index]
                    arguments_done.add(index)
    return chunks


def _describe_answer(call: CallRecord, response: Any) -> None:
    """The answer's message, model, finish reason and usage onto the call's record."""
    if (message := _answer_message(response)) is not None:
        call.output_messages = [message]
        call.finish_reason = response.choices[0].finish_reason
    call.response_model = getattr(response, "model", None)
    usage = getattr(response, "usage", None)
    if usage is not None:
        call.input_tokens = getattr(usage, "prompt_tokens", None)
        call.output_tokens = getattr(usage, "completion_tokens", None)
