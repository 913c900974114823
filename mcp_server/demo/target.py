"""The Northwind support agent as an evaluation target: `Evaluate(dataset=..., target=
'mcp_server.demo_target:answer')` runs one customer message per dataset record through the
scripted agent of mcp_server.demo.agent, its spans nested under the evaluation's root span.

The router's system prompt comes from the prompt registry, `prompts:/northwind-router@production`,
so moving that alias to a new version (or an optimizer trying a candidate) changes how the agent
routes; with no such prompt registered the agent uses the shipped ROUTER_SYSTEM_PROMPT.
"""

from __future__ import annotations

import random
import time
from typing import Any

from opentelemetry import trace as otel_trace

from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT, ScriptedModel, SimulatedClock, SupportAgent
from mcp_server.prompts import load_prompt
from store.errors import PromptNotFound

ROUTER_PROMPT = "northwind-router"
ROUTER_PROMPT_URI = f"prompts:/{ROUTER_PROMPT}@production"
DEFAULT_ACCOUNT = "NW-27730"
"""A customer of the demo backend, for records that name none."""


def router_prompt() -> str:
    """The router prompt the agent runs with: the registry's production version, else the shipped one."""
    try:
        prompt = load_prompt(ROUTER_PROMPT_URI)
    except PromptNotFound:
        return ROUTER_SYSTEM_PROMPT
    return str(prompt.format(allow_partial=True))


def _question(request: Any) -> str:
    """The latest customer text of a request: a string, a list of chat messages (OpenAI
    'content' or GenAI 'parts'), or an object holding 'messages'."""
    if isinstance(request, str):
        return request
    if isinstance(request, dict) and "messages" in request:
        return _question(request["messages"])
    if isinstance(request, list):
        for message in reversed(request):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
                parts = message.get("parts") or content or []
                return " ".join(p.get("content") or p.get("text") or "" for p in parts if isinstance(p, dict))
    raise ValueError(f"no customer message in the request {request!r:.200}; pass question='...' or chat messages.")


def answer(request: Any = None, question: str | None = None, account_id: str = DEFAULT_ACCOUNT) -> dict[str, str]:
    """Answer one customer message; returns the specialist it was routed to and the answer."""
    text = question if question is not None else _question(request)
    rng = random.Random(text)
    agent = SupportAgent(
        tracer=otel_trace.get_tracer("northwind.support", "1.4.0"),
        clock=SimulatedClock(time.time_ns()),
        model=ScriptedModel(rng),
        rng=rng,
        router_prompt=router_prompt(),
        own_trace=False,
    )
    turn = agent.handle(account_id, f"conv_{rng.getrandbits(96):024x}", [], text)
    return {"specialist": turn.route, "answer": turn.answer}
