"""Sending one OpenAI-form request down a route's chain (the route, then its fallbacks) through litellm.

A route falls back on what another provider could answer: a 5xx, a timeout, a connection error.
A 4xx is the request's fault (or the key's at the provider) and goes back to the client as it
came, since a second provider would refuse it too. Neither litellm nor the OpenAI SDK under it
retries on its own (max_retries=0): the chain is the one retry policy, and the client's SDK has its own.
A streamed call falls back only until the provider starts answering; after the first chunk the
answer is that route's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.routes import Route
from mcp_server.models.litellm_import import load_litellm
from mcp_server.models.provider_errors import provider_message

TIMEOUT_GRACE_S = 2.0
"""litellm enforces the route's timeout on the HTTP exchange; this backstop also covers its own work."""


@dataclass
class Attempt:
    route: str
    model: str
    duration_ms: float
    error: str | None = None
    status: int | None = None


@dataclass
class Forwarded:
    """What the chain answered: litellm's response (or stream), the route that gave it, every attempt."""

    response: Any
    route: Route
    attempts: list[Attempt] = field(default_factory=list)


class ChainFailed(GatewayError):
    """Every route of the chain failed; `attempts` says how."""

    def __init__(self, status: int, kind: Any, message: str, attempts: list[Attempt]) -> None:
        super().__init__(status, kind, message)
        self.attempts = attempts


def _failure(exc: BaseException, route: Route) -> tuple[int, str, bool]:
    """(status for the client, what went wrong, whether a fallback may help)."""
    if isinstance(exc, TimeoutError):
        return 504, f"route {route.name!r} ({route.model}) did not answer within {route.timeout_s:g} s", True
    litellm = load_litellm()
    message = provider_message(exc)
    if isinstance(exc, litellm.Timeout):
        return 504, f"route {route.name!r} ({route.model}) did not answer within {route.timeout_s:g} s", True
    if isinstance(exc, litellm.APIConnectionError):
        return 502, f"route {route.name!r} ({route.model}) could not be reached: {message}", True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500:
        return status, f"route {route.name!r} ({route.model}) refused the request ({status}): {message}", False
    return 502, f"route {route.name!r} ({route.model}) failed ({status or 'no status'}): {message}", True


async def forward(chain: list[Route], request: dict[str, Any], *, stream: bool) -> Forwarded:
    """Send `request` (OpenAI chat-completion parameters, without model) down `chain`; the first
    answer wins. ChainFailed when no route answered."""
    litellm = load_litellm()
    attempts: list[Attempt] = []
    for route in chain:
        started = time.perf_counter()
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
        try:
            with anyio.fail_after(route.timeout_s + TIMEOUT_GRACE_S):
                response = await litellm.acompletion(
                    model=route.model, **request, **extra, stream=stream, api_base=route.api_base,
                    api_key=route.api_key(), timeout=route.timeout_s, max_retries=0, num_retries=0,
                )  # fmt: skip
        except Exception as exc:  # litellm's errors have no common base besides Exception; each is classified
            status, what, fall_back = _failure(exc, route)
            attempts.append(Attempt(route.name, route.model, (time.perf_counter() - started) * 1000, what, status))
            if not fall_back:
                raise ChainFailed(status, "invalid_request" if status != 404 else "not_found", what, attempts) from exc
            continue
        attempts.append(Attempt(route.name, route.model, (time.perf_counter() - started) * 1000))
        return Forwarded(response, route, attempts)
    tried = "; ".join(a.error or "" for a in attempts)
    last = attempts[-1].status or 502
    kind = "timeout" if last == 504 else "upstream"
    raise ChainFailed(last if last in (502, 504) else 502, kind,
                      f"no route could answer ({tried}); retry later, or ask the operator to check the routes "
                      "in the gateway configuration.", attempts)  # fmt: skip


def cost_of(response: Any, route: Route, input_tokens: int, output_tokens: int) -> tuple[float, str | None]:
    """USD for the call: litellm's price map, else the route's prices per million tokens, else 0 with a note."""
    litellm = load_litellm()
    hidden = getattr(response, "_hidden_params", None)
    stamped = hidden.get("response_cost") if hasattr(hidden, "get") else None
    if isinstance(stamped, int | float) and stamped > 0:
        return float(stamped), None
    try:
        prompt, answer = litellm.cost_per_token(model=route.model, prompt_tokens=input_tokens, completion_tokens=output_tokens)
        if prompt or answer:
            return float(prompt) + float(answer), None
    except Exception:  # litellm raises plain Exception (ModelNotMappedError) for a model it cannot price
        pass
    if route.input_usd_per_million is not None or route.output_usd_per_million is not None:
        return ((route.input_usd_per_million or 0) * input_tokens + (route.output_usd_per_million or 0) * output_tokens) / 1e6, None
    return 0.0, (f"litellm has no price for {route.model!r} and route {route.name!r} gives none "
                 "(input_usd_per_million, output_usd_per_million); counted as 0.")  # fmt: skip
