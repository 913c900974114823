"""MCP sampling: the judge's LLM calls answered by the connected MCP client's own model.

A tool call (RunJudge) hands its session down as a `Sampler`; `complete` sends the call there as
`sampling/createMessage` when the model is `sampling`, or when no model is configured at all and
the client declared the sampling capability. Our OpenAI-format messages become sampling messages
(system messages the systemPrompt); tools go as sampling tools where the client declared
`sampling.tools`, with tool calls and results as tool_use/tool_result blocks. A JSON answer is
asked for in the prompt (sampling has no response_format) and parsed as prompt mode does.

The client reports neither tokens nor cost: they count as 0, and `cost_note` says why.

Sampling needs a back-channel from server to client during the tool call: the handshake-era
protocols (2025-11-25 and before, what stdio and HTTP clients such as Claude Code speak) have
one; a 2026-07-28 connection does not, and its calls fail with SamplingUnavailable saying so.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp import types
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError, NoBackChannelError

from mcp_server.models.errors import (
    ModelTimeout,
    SamplingRejected,
    SamplingUnavailable,
    StructuredOutputError,
)
from mcp_server.models.names import SAMPLING, parse_model_name
from mcp_server.models.results import Completion, ToolCall
from mcp_server.models.settings import JUDGE_MODEL_ENV, JUDGE_TIMEOUT_ENV, ModelSettings
from mcp_server.models.structured import extract_json_object, with_schema_instructions

DEFAULT_MAX_TOKENS = 4_096
"""sampling/createMessage requires maxTokens; used when the caller names none."""

_STOP_REASONS = {"endTurn": "stop", "stopSequence": "stop", "maxTokens": "length", "toolUse": "tool_calls"}
_CONFIGURE = (
    f"set {JUDGE_MODEL_ENV} (e.g. 'openai:/gpt-4o-mini') with the provider's key, or give the judge "
    "another model"
)


@dataclass(frozen=True)
class Sampler:
    """The MCP client session a tool was called from, to send sampling/createMessage to.

    `session` is the server-side session of the call (`ctx.session`); `related_request_id` ties the
    sampling request to that tool call, so an HTTP transport sends it on the call's stream.
    """

    session: Any
    related_request_id: str | int | None = None

    @classmethod
    def from_context(cls, ctx: Any) -> Sampler:
        """The sampler of a tool call's `ctx: Context`."""
        return cls(ctx.session, ctx.request_context.request_id)

    @property
    def capability(self) -> types.SamplingCapability | None:
        capabilities = self.session.client_capabilities
        return capabilities.sampling if capabilities is not None else None

    @property
    def available(self) -> bool:
        """Whether the client declared the sampling capability."""
        return self.capability is not None

    @property
    def supports_tools(self) -> bool:
        """Whether the client declared tool use in sampling (`sampling.tools`)."""
        capability = self.capability
        return capability is not None and capability.tools is not None


def sampling_route(model: str | None, settings: ModelSettings, sampler: Sampler | None) -> Sampler | None:
    """The sampler a call with `model` goes to, or None when it goes to litellm.

    Sampling when the model (or the default judge model) is `sampling`, or when no model is
    configured at all and the client declared sampling. Raises SamplingUnavailable when the model
    is `sampling` and there is no client, or the client does not support sampling.
    """
    chosen = model if model is not None and model.strip() else settings.judge_model
    if chosen is None:
        return sampler if sampler is not None and sampler.available else None
    if not parse_model_name(chosen).is_sampling:
        return None
    if sampler is None:
        raise SamplingUnavailable(
            "model 'sampling' sends the judge's LLM calls to the connected MCP client "
            "(sampling/createMessage), and this call has no client to ask; run the judge from an "
            "MCP client that supports sampling, or name a model such as 'openai:/gpt-4o-mini' "
            f"(or set {JUDGE_MODEL_ENV}).",
            model=SAMPLING,
        )
    if not sampler.available:
        raise SamplingUnavailable(
            "model 'sampling' asks the connected MCP client's model, and this client did not declare "
            f"the sampling capability; run the judge from a client that supports sampling, or {_CONFIGURE}.",
            model=SAMPLING,
        )
    return sampler


async def sample(
    sampler: Sampler,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    response_schema: Mapping[str, Any] | None = None,
    schema_name: str = "response",
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout_s: float,
) -> Completion:
    """One completion from the client's model, as `complete` returns it (tokens and cost 0)."""
    if tools and not sampler.supports_tools:
        raise SamplingUnavailable(
            "this judge calls tools, and the MCP client did not declare tool use in sampling "
            f"(capabilities.sampling.tools); use a client that supports it, or {_CONFIGURE}.",
            model=SAMPLING,
        )
    sent = [dict(m) for m in messages]
    if response_schema is not None:
        sent = with_schema_instructions(sent, response_schema)
    system, sampling_messages = to_sampling_messages(sent, with_tools=bool(tools))
    sampling_tools = [_tool(t) for t in tools] if tools else None
    started = time.perf_counter()
    with warnings.catch_warnings():
        # The SDK marks sampling deprecated as of protocol 2026-07-28; the handshake-era protocols
        # that clients speak today have it. The warning is raised when the coroutine is made.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        request = sampler.session.create_message(
            sampling_messages,
            max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
            system_prompt=system,
            temperature=temperature,
            tools=sampling_tools,
            related_request_id=sampler.related_request_id,
        )
    try:
        with anyio.fail_after(timeout_s):
            result = await request
    except TimeoutError as exc:
        raise ModelTimeout(
            f"the MCP client's model gave no answer to sampling/createMessage within {timeout_s:g} s; "
            f"raise {JUDGE_TIMEOUT_ENV} or answer the client's prompt sooner.",
            model=SAMPLING, attempts=1,
        ) from exc
    except NoBackChannelError as exc:
        raise SamplingUnavailable(
            "the MCP client declared sampling, but this connection cannot send it requests during a "
            "tool call (protocol 2026-07-28 has no back-channel); connect with the handshake protocol "
            f"(2025-11-25 or earlier), or {_CONFIGURE}.",
            model=SAMPLING, attempts=1,
        ) from exc
    except MCPError as exc:
        raise SamplingRejected(
            f"the MCP client refused or failed the sampling request ({exc.error.message}, code "
            f"{exc.error.code}); accept the request in the client, or {_CONFIGURE}.",
            model=SAMPLING, attempts=1,
        ) from exc
    completion = to_completion(result, time.perf_counter() - started)
    if response_schema is not None:
        completion = completion.model_copy(update={"structured_mode": "prompt"})
    if response_schema is not None and not completion.tool_calls:
        try:
            parsed = extract_json_object(completion.text)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the MCP client's model {completion.model!r} was asked for a JSON object matching schema "
                f"{schema_name!r} and {exc} (it began: {completion.text[:200]!r}); ask again "
                "(a retry usually succeeds) or configure a model with structured-output support.",
                completion=completion,
            ) from exc
        completion = completion.model_copy(update={"parsed": parsed})
    return completion


def to_sampling_messages(
    messages: Sequence[Mapping[str, Any]], *, with_tools: bool
) -> tuple[str | None, list[types.SamplingMessage]]:
    """(systemPrompt, messages) for OpenAI-format `messages`.

    With tools, assistant tool calls become tool_use blocks and consecutive tool results one user
    message of tool_result blocks. Without tools they are written as text: providers refuse
    tool_use blocks in a request that defines no tools.
    """
    system: list[str] = []
    out: list[types.SamplingMessage] = []
    results: list[types.ToolResultContent] = []

    def flush_results() -> None:
        if results:
            out.append(types.SamplingMessage(role="user", content=list(results)))
            results.clear()

    for message in messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role == "system":
            system.append(text)
            continue
        if role == "tool":
            if with_tools:
                results.append(types.ToolResultContent(
                    tool_use_id=str(message.get("tool_call_id") or ""),
                    content=[types.TextContent(type="text", text=text)],
                ))
            else:
                out.append(_text_message("user", f"[result of tool call {message.get('tool_call_id')}]\n{text}"))
            continue
        flush_results()
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if with_tools and calls:
                blocks: list[types.SamplingMessageContentBlock] = []
                if text:
                    blocks.append(types.TextContent(type="text", text=text))
                blocks += [_tool_use(c) for c in calls]
                out.append(types.SamplingMessage(role="assistant", content=blocks))
            else:
                written = [text] if text else []
                written += [
                    f"[called tool {c['function']['name']} (call {c.get('id')}) with {c['function'].get('arguments') or '{}'}]"
                    for c in calls
                ]
                out.append(_text_message("assistant", "\n".join(written)))
        else:
            out.append(_text_message("user", text))
    flush_results()
    return ("\n\n".join(system) if system else None), out


def to_completion(result: types.CreateMessageResult | types.CreateMessageResultWithTools, latency_s: float) -> Completion:
    """The client's answer as a Completion: text, tool calls, stop reason, the client's model."""
    blocks = result.content if isinstance(result.content, list) else [result.content]
    text = "\n".join(b.text for b in blocks if isinstance(b, types.TextContent))
    calls = [
        ToolCall(id=b.id, name=b.name, arguments=dict(b.input), arguments_json=json.dumps(b.input, ensure_ascii=False))
        for b in blocks if isinstance(b, types.ToolUseContent)
    ]
    stop = result.stop_reason
    return Completion(
        model=result.model,
        text=text,
        structured_mode=None,
        tool_calls=calls,
        finish_reason=_STOP_REASONS.get(stop, stop) if stop else None,
        cost_note=(
            f"the MCP client's model {result.model!r} answered through sampling; the client reports "
            "no tokens or cost, so they count as 0."
        ),
        latency_s=latency_s,
        attempts=1,
    )


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return str(content)


def _text_message(role: str, text: str) -> types.SamplingMessage:
    return types.SamplingMessage(role=role, content=types.TextContent(type="text", text=text))  # type: ignore[arg-type]


def _tool_use(call: Mapping[str, Any]) -> types.ToolUseContent:
    function = call.get("function") or {}
    raw = function.get("arguments") or "{}"
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError:
        arguments = {}
    if not isinstance(arguments, dict):
        arguments = {}
    return types.ToolUseContent(type="tool_use", id=str(call.get("id") or ""), name=str(function.get("name") or ""),
                                input=arguments)


def _tool(spec: Mapping[str, Any]) -> types.Tool:
    function = spec.get("function") or {}
    return types.Tool(
        name=str(function.get("name") or ""),
        description=function.get("description") or None,
        input_schema=dict(function.get("parameters") or {"type": "object", "properties": {}}),
    )
