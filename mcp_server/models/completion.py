"""`complete`: one chat completion through litellm, with retries, structured output and usage."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from mcp_server.models.budget import within_budget
from mcp_server.models.errors import ModelUnavailable, StructuredOutputError
from mcp_server.models.litellm_import import load_litellm
from mcp_server.models.names import ModelName
from mcp_server.models.provider_errors import classify
from mcp_server.models.results import Completion, ToolCall
from mcp_server.models.retry import RetryNotice, call_with_retries
from mcp_server.models.sampling import Sampler, sample, sampling_route
from mcp_server.models.settings import ModelSettings
from mcp_server.models.structured import StructuredMode, extract_json_object, response_format, with_schema_instructions
from mcp_server.models.target import ModelTarget, resolve_model

# litellm enforces timeout_s on the HTTP exchange; this backstop, a little later, also covers
# work litellm does around it (and any provider path that ignores `timeout`).
_TIMEOUT_GRACE_S = 2.0


async def complete(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    settings: ModelSettings | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    response_schema: Mapping[str, Any] | None = None,
    schema_name: str = "response",
    structured_mode: StructuredMode = "auto",
    api_base: str | None = None,
    api_key: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout_s: float | None = None,
    on_retry: Callable[[RetryNotice], None] | None = None,
    sampler: Sampler | None = None,
) -> Completion:
    """Ask a model for one answer to OpenAI-format `messages`.

    `model` is `provider:/model` or `provider/model` (the default judge model when None).
    `tools` are OpenAI function tools; the answer's tool calls come back parsed.
    `response_schema` (a JSON Schema for an object) asks for structured output: through the
    provider's `response_format` where litellm knows it is supported (or structured_mode says
    so), otherwise through the system prompt; the JSON object comes back in `parsed`, and an
    answer without one raises StructuredOutputError, whose `completion` holds the spent usage.
    An answer with tool calls is not parsed: the model is still working.

    429, 5xx and connection errors are retried with backoff (settings.max_attempts in all);
    4xx, authentication and timeouts are not. Tokens and cost are this call's only.

    `sampler` is the MCP client a tool was called from: the call goes there (sampling/createMessage)
    when the model is `sampling`, or when no model is configured and the client supports sampling.
    """
    settings = settings or ModelSettings()
    client = sampling_route(model, settings, sampler)  # raises SamplingUnavailable for 'sampling' without one
    if client is not None:
        ask = functools.partial(
            sample, client, messages, tools=tools, response_schema=response_schema, schema_name=schema_name,
            temperature=temperature, max_tokens=max_tokens,
            timeout_s=timeout_s if timeout_s is not None else settings.timeout_s,
        )
        # The client's model costs this server nothing; its tokens still count against a budget.
        return await within_budget(ask, messages=messages, tools=tools, max_tokens=max_tokens, price=lambda p, a: 0.0)
    target = resolve_model(model, settings, api_base=api_base, api_key=api_key)
    litellm = load_litellm()
    return await within_budget(
        functools.partial(
            _complete, litellm, target, messages, tools=tools, tool_choice=tool_choice,
            response_schema=response_schema, schema_name=schema_name, structured_mode=structured_mode,
            temperature=temperature, max_tokens=max_tokens,
            timeout=timeout_s if timeout_s is not None else settings.timeout_s, on_retry=on_retry, settings=settings,
        ),
        messages=messages, tools=tools, max_tokens=max_tokens,
        price=functools.partial(_price, litellm, target.name.litellm_name),
    )


async def _complete(
    litellm: Any,
    target: ModelTarget,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None,
    tool_choice: str | Mapping[str, Any] | None,
    response_schema: Mapping[str, Any] | None,
    schema_name: str,
    structured_mode: StructuredMode,
    temperature: float | None,
    max_tokens: int | None,
    timeout: float,
    on_retry: Callable[[RetryNotice], None] | None,
    settings: ModelSettings,
) -> Completion:
    """`complete` through litellm, to `target`."""
    mode = _structured_mode(litellm, target.name, structured_mode) if response_schema else None
    sent = [dict(m) for m in messages]
    request: dict[str, Any] = {}
    if response_schema is not None:
        if mode == "response_format":
            request["response_format"] = response_format(response_schema, schema_name)
        else:
            sent = with_schema_instructions(sent, response_schema)
    request.update(_optional(tools=list(tools) if tools else None, tool_choice=tool_choice,
                             temperature=temperature, max_tokens=max_tokens,
                             api_base=target.api_base, api_key=target.api_key))

    async def attempt_once() -> Any:
        with anyio.fail_after(timeout + _TIMEOUT_GRACE_S):
            return await litellm.acompletion(
                model=target.name.litellm_name,
                messages=sent,
                timeout=timeout,
                # We retry ourselves (with Retry-After and a cap); neither litellm nor the
                # OpenAI SDK under it may add attempts of their own.
                max_retries=0,
                num_retries=0,
                # A parameter the model rejects (temperature on reasoning models) is dropped
                # rather than failing the judgment; response_format is only sent where supported.
                drop_params=True,
                **request,
            )

    started = time.perf_counter()
    response, attempts = await call_with_retries(
        attempt_once,
        classify=lambda exc: classify(exc, name=target.name, timeout_s=timeout),
        settings=settings,
        on_retry=on_retry,
    )
    completion = _to_completion(litellm, response, target, mode, attempts,
                                time.perf_counter() - started)
    if response_schema is not None and not completion.tool_calls:
        try:
            parsed = extract_json_object(completion.text)
        except ValueError as exc:
            raise StructuredOutputError(
                f"model {completion.model!r} was asked for a JSON object matching schema "
                f"{schema_name!r} and {exc} (it began: {completion.text[:200]!r}); ask again "
                f"(a retry usually succeeds) or use a model with structured-output support.",
                completion=completion,
            ) from exc
        completion = completion.model_copy(update={"parsed": parsed})
    return completion


def _price(litellm: Any, model: str, prompt_tokens: int, answer_tokens: int) -> float:
    """What litellm's price map says a call of this size costs; 0 for a model it cannot price."""
    try:
        prompt_cost, answer_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=answer_tokens
        )
    except Exception:  # litellm raises plain Exception for a model missing from its price map
        return 0.0
    return float(prompt_cost) + float(answer_cost)


def _optional(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _structured_mode(litellm: Any, name: ModelName, requested: StructuredMode) -> str:
    if requested != "auto":
        return requested
    return "response_format" if _supports_response_schema(litellm, name.litellm_name) else "prompt"


@functools.lru_cache(maxsize=256)
def _supports_response_schema(litellm: Any, litellm_name: str) -> bool:
    """Asked once per model: litellm's lookup walks its model map (~0.06 ms a call) and the
    answer depends only on the bundled map, which is read once at import."""
    try:
        return bool(litellm.supports_response_schema(model=litellm_name))
    except Exception:  # litellm raises plain Exception for models it has never heard of
        return False


def _to_completion(litellm: Any, response: Any, target: ModelTarget, mode: str | None,
                   attempts: int, latency_s: float) -> Completion:
    model = target.name.litellm_name
    if not getattr(response, "choices", None):
        raise ModelUnavailable(
            f"model {model!r} answered without any choice; run again, or check the server at "
            f"{target.api_base or 'the provider'}.", model=model, attempts=attempts,
        )
    choice = response.choices[0]
    message = choice.message
    usage = getattr(response, "usage", None)
    cost, note = _cost(litellm, response, model)
    return Completion(
        model=model,
        text=message.content if isinstance(message.content, str) else "",
        structured_mode=mode,
        tool_calls=[_tool_call(c) for c in (message.tool_calls or [])],
        finish_reason=choice.finish_reason,
        input_tokens=getattr(usage, "prompt_tokens", None) or 0,
        output_tokens=getattr(usage, "completion_tokens", None) or 0,
        cost_usd=cost,
        cost_note=note,
        latency_s=latency_s,
        attempts=attempts,
    )


def _tool_call(call: Any) -> ToolCall:
    raw = call.function.arguments or ""
    arguments: dict[str, Any] = {}
    problem = None
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        problem = f"the arguments are not valid JSON ({exc}); send them again as a JSON object."
    else:
        if isinstance(value, dict):
            arguments = value
        else:
            problem = f"the arguments are JSON {type(value).__name__}, not an object; send an object."
    return ToolCall(id=call.id or "", name=call.function.name or "", arguments=arguments,
                    arguments_json=raw, arguments_error=problem)


def _cost(litellm: Any, response: Any, model: str) -> tuple[float, str | None]:
    # litellm prices every response it returns (its logging needs the cost) and keeps the
    # figure in _hidden_params; pricing it again costs ~0.2 ms of event-loop CPU per call.
    # None there means litellm could not price it: ask completion_cost for the reason.
    hidden = getattr(response, "_hidden_params", None)
    stamped = hidden.get("response_cost") if hasattr(hidden, "get") else None  # a dict or HiddenParams
    if isinstance(stamped, int | float):
        return float(stamped), None
    try:
        return float(litellm.completion_cost(completion_response=response, model=model)), None
    except Exception:  # litellm raises plain Exception for a model missing from its price map
        return 0.0, f"litellm has no price for model {model!r}; its cost is counted as 0."
