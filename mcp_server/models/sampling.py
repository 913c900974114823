"""MCP sampling: the judge's LLM calls answered by the connected MCP client's own model.

A tool call (RunJudge) hands its session down as a `Sampler`; `complete` sends the call there as
`sampling/createMessage` when the model is `sampling`, or when no model is configured at all and
the client declared the sampling capability. Our OpenAI-format messages become sampling messages
(system messages the systemPrompt); tools go as sampling tools where the client declared
`sampling.tools`, with tool calls and results as tool_use/tool_result blocks. A JSON answer is
asked for in the prompt (sampling has no response_format) and parsed as prompt mode does.

The client reports neither tokens nor cost (CreateMessageResult has no usage): tokens are
estimated from characters (TOKENS_ESTIMATED, so budgets still count something), cost is 0 since
the client pays, and `cost_note` says both.

How the request reaches the client depends on the protocol. The handshake-era protocols
(2025-11-25 and before, what stdio and HTTP clients such as Claude Code speak today) have a
back-channel: the request is sent during the tool call. A 2026-07-28 connection has none; there a
tool run through `with_sampling` answers with an InputRequiredResult and is called again with the
client's answer (multi round-trip requests, mcp_server.models.sampling_rounds). Any other tool
(a sampler made with `Sampler.from_context`) fails on 2026-07-28 with SamplingUnavailable saying
what to do.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from mcp import types
from mcp.server.validation import validate_tool_use_result_messages
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError, NoBackChannelError

from mcp_server.models.errors import ModelTimeout, SamplingRejected, SamplingUnavailable, StructuredOutputError
from mcp_server.models.names import SAMPLING, parse_model_name
from mcp_server.models.results import Completion, ToolCall
from mcp_server.models.sampling_rounds import INPUT_REQUIRED_VERSION, SamplingRounds, run_rounds, uses_input_required
from mcp_server.models.settings import JUDGE_MODEL_ENV, JUDGE_TIMEOUT_ENV, ModelSettings
from mcp_server.models.structured import extract_json_object, with_schema_instructions
from mcp_server.models.target import check_model_allowed
from mcp_server.models.token_estimate import CHARS_PER_TOKEN, tokens_in_chars

DEFAULT_MAX_TOKENS = 4_096
"""sampling/createMessage requires maxTokens; used when the caller names none."""
TOKENS_ESTIMATED = "tokens_estimated"
"""Metadata key a judge sets to true when its token counts are such estimates."""
T = TypeVar("T")

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
    `rounds`, set by `with_sampling` on a 2026-07-28 connection, holds the client's answers of the
    earlier rounds of a multi round-trip tool call; requests then go through it, not the session.
    """

    session: Any
    related_request_id: str | int | None = None
    protocol_version: str | None = None
    rounds: SamplingRounds | None = None

    @classmethod
    def from_context(cls, ctx: Any) -> Sampler:
        """The sampler of a tool call's `ctx: Context`, sending requests over the back-channel.

        On a 2026-07-28 connection (no back-channel) its requests fail with SamplingUnavailable;
        a tool whose body can run again with the client's answers uses `with_sampling` instead.
        """
        return cls(ctx.session, ctx.request_context.request_id, ctx.protocol_version)

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


async def with_sampling(ctx: Any, body: Callable[[Sampler], Awaitable[T]]) -> T | types.InputRequiredResult:
    """Run a tool body that may sample the calling client's model, on every protocol version.

    `body` gets the call's Sampler. On the handshake protocols its requests go over the
    back-channel during the call and `body`'s result is returned. On 2026-07-28 a request the
    client has not answered yet ends `body` early and the tool answers with an InputRequiredResult;
    the client answers and calls the tool again, and `body` runs again from the start with the
    answers so far. So `body` must be safe to repeat until it returns: write nothing before its
    last model call (RunJudge records the verdict only after the judgment, which is safe).
    A tool using it declares `-> <its result> | InputRequiredResult`.
    """
    version = ctx.protocol_version
    rounds = SamplingRounds.from_context(ctx) if uses_input_required(version) else None
    sampler = Sampler(ctx.session, ctx.request_context.request_id, version, rounds)
    return await run_rounds(rounds, lambda: body(sampler))


def sampling_route(model: str | None, settings: ModelSettings, sampler: Sampler | None) -> Sampler | None:
    """The sampler a call with `model` goes to, or None when it goes to litellm.

    Sampling when the model (or the default judge model) is `sampling`, or when no model is
    configured at all and the client declared sampling. Raises SamplingUnavailable when the model
    is `sampling` and there is no client, or the client does not support sampling; ModelNotAllowed
    when the settings do not allow `sampling`.
    """
    chosen = model if model is not None and model.strip() else settings.judge_model
    if chosen is None:
        if sampler is None or not sampler.available:
            return None
        check_model_allowed(SAMPLING, settings)
        return sampler
    if not parse_model_name(chosen).is_sampling:
        return None
    check_model_allowed(SAMPLING, settings)
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
    """One completion from the client's model, as `complete` returns it (tokens estimated, cost 0)."""
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
    params = types.CreateMessageRequestParams(
        messages=sampling_messages,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        system_prompt=system,
        temperature=temperature,
        tools=[_tool(t) for t in tools] if tools else None,
    )
    started = time.perf_counter()
    if sampler.rounds is not None:
        validate_tool_use_result_messages(sampling_messages)  # what create_message checks before sending
        result: types.CreateMessageResult | types.CreateMessageResultWithTools = sampler.rounds.answer(params)
    else:
        result = await _ask(sampler, params, timeout_s)
    completion = to_completion(result, time.perf_counter() - started, input_tokens=_estimate(params))
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


async def _ask(sampler: Sampler, params: types.CreateMessageRequestParams, timeout_s: float) -> Any:
    """Send `params` to the client over the back-channel of the tool call, and wait for its answer."""
    with warnings.catch_warnings():
        # The SDK marks sampling deprecated as of protocol 2026-07-28; the handshake-era protocols
        # that clients speak today have it. The warning is raised when the coroutine is made.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        request = sampler.session.create_message(
            params.messages,
            max_tokens=params.max_tokens,
            system_prompt=params.system_prompt,
            temperature=params.temperature,
            tools=params.tools,
            related_request_id=sampler.related_request_id,
        )
    try:
        with anyio.fail_after(timeout_s):
            return await request
    except TimeoutError as exc:
        raise ModelTimeout(
            f"the MCP client's model gave no answer to sampling/createMessage within {timeout_s:g} s; "
            f"raise {JUDGE_TIMEOUT_ENV} or answer the client's prompt sooner.",
            model=SAMPLING, attempts=1,
        ) from exc
    except NoBackChannelError as exc:
        raise SamplingUnavailable(
            f"the MCP client declared sampling, but this connection speaks protocol "
            f"{sampler.protocol_version or INPUT_REQUIRED_VERSION}, where a server cannot send the client a "
            "request during this tool call (no back-channel; only RunJudge asks through multi round-trip "
            "requests); run the judge with RunJudge, connect with the handshake protocol (2025-11-25 or "
            f"earlier; the SDK's Client(mode='legacy')), or {_CONFIGURE}.",
            model=SAMPLING, attempts=1,
        ) from exc
    except MCPError as exc:
        raise SamplingRejected(
            f"the MCP client refused or failed the sampling request ({exc.error.message}, code "
            f"{exc.error.code}); accept the request in the client, or {_CONFIGURE}.",
            model=SAMPLING, attempts=1,
        ) from exc


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


def to_completion(
    result: types.CreateMessageResult | types.CreateMessageResultWithTools, latency_s: float, *, input_tokens: int = 0
) -> Completion:
    """The client's answer as a Completion: text, tool calls, stop reason, the client's model.

    `input_tokens` is the estimate of what was sent; output tokens are estimated from the answer.
    """
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
        input_tokens=input_tokens,
        output_tokens=_estimate(blocks),
        tokens_estimated=True,
        cost_note=(
            f"the MCP client's model {result.model!r} answered through sampling; the client pays and "
            f"reports no usage, so cost counts as 0 and tokens are estimated (characters / {CHARS_PER_TOKEN})."
        ),
        latency_s=latency_s,
        attempts=1,
    )


def _estimate(value: Any) -> int:
    """Tokens of a sampling request or answer, estimated from the characters of its JSON: sampled
    calls report no usage."""
    if isinstance(value, list):
        chars = sum(len(v.model_dump_json(by_alias=True, exclude_none=True)) for v in value)
    else:
        chars = len(value.model_dump_json(by_alias=True, exclude_none=True))
    return tokens_in_chars(chars)


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
