"""Northwind Mobile's customer-support agent, scripted: the agent behind `tracejudge demo` and
examples/telecom_support.

A router reads the customer's message and hands it to one of three specialists (billing, product,
account); the specialist calls tools and answers. Every step is an OpenTelemetry span that follows
the GenAI semantic conventions: `invoke_agent support_router` at the root, `chat gpt-4o-mini` for
each model call (messages, token usage), `invoke_agent <specialist>` for the hand-off and
`execute_tool <tool>` for each tool call.

No model is called. `ScriptedModel` plays the LLM, deterministically, and a simulated clock sets
every timestamp, so ten conversations take milliseconds and the same seed gives the same spans.

The router has one bug, on purpose: ROUTER_SYSTEM_PROMPT checks the product keywords before the
billing ones, so "Why was I charged for roaming in Spain?" goes to the product specialist, which
sells a roaming pass and never opens the invoice. The scripted router really follows the rules
written in the prompt, so a better prompt routes that question to billing, which answers it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from mcp_server.demo import backend
from mcp_server.models.token_estimate import estimate_tokens

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
PROVIDER = "openai"
ROUTER = "support_router"
SPECIALISTS = ("billing_specialist", "product_specialist", "account_specialist")

DEMO_SEED = 20250602
DEMO_START_NS = 1_748_854_800_000_000_000  # 2025-06-02 09:00:00 UTC
"""The demo's fixed clock and seed: loading it twice writes the very same spans."""

RESOURCE_ATTRIBUTES = {
    "service.name": "northwind-support-agent",
    "service.version": "1.4.0",
    "deployment.environment.name": "demo",
}

ROUTER_SYSTEM_PROMPT = """\
You are the triage assistant for Northwind Mobile customer support.
Read the customer's latest message and answer with the name of exactly one specialist:
billing_specialist, product_specialist or account_specialist. Answer with the name only.

Keyword rules, checked in order; the first rule with a keyword in the message wins:
1. roaming, coverage, signal, 5G, plans, compare, phone, device -> product_specialist
2. bill, invoice, charge, charged, fee, refund, payment -> billing_specialist
3. password, locked out, log in, switch, email address, account -> account_specialist
If no rule matches, answer account_specialist."""

SPECIALIST_PROMPTS = {
    "billing_specialist": (
        "You are Northwind Mobile's billing specialist. Explain charges from the customer's "
        "invoice, line by line, and issue refunds for billing mistakes. Always look up the "
        "invoice before answering. The customer is signed in as account {account_id}."
    ),
    "product_specialist": (
        "You are Northwind Mobile's product specialist. Help customers choose plans and "
        "devices and answer coverage questions. Be friendly and suggest the plan that fits. "
        "The customer is signed in as account {account_id}."
    ),
    "account_specialist": (
        "You are Northwind Mobile's account specialist. Help customers with sign-in, "
        "passwords, contact details and plan changes. Confirm every change you make. "
        "The customer is signed in as account {account_id}."
    ),
}
SPECIALIST_DESCRIPTIONS = {
    ROUTER: "Reads the customer's message and hands it to the right specialist.",
    "billing_specialist": "Explains invoices and charges and issues refunds.",
    "product_specialist": "Recommends plans and devices and checks network coverage.",
    "account_specialist": "Handles sign-in, passwords, contact details and plan changes.",
}


@dataclass(frozen=True)
class Playbook:
    """What the scripted model does when `specialist` gets a message matching `pattern`: call
    the tools in order, one per model turn (filling "{account_id}" in from its system prompt),
    then answer `reply`, or `reply_on_error` when a tool failed."""

    specialist: str
    pattern: str
    tool_calls: tuple[tuple[str, dict[str, Any]], ...]
    reply: str
    reply_on_error: str = ""


PLAYBOOKS: tuple[Playbook, ...] = (
    Playbook(
        "billing_specialist",
        r"higher than usual",
        (
            ("lookup_invoice", {"account_id": "{account_id}", "period": "2025-05"}),
            ("explain_charge", {"invoice_id": "INV-2505-20417", "line_id": "L3"}),
        ),
        "Your May bill is $78.00, $23.00 more than April. Two things were added: a one-time "
        "$15.00 activation fee for Device Protection Plus (turned on in the app on May 3) and "
        "an $8.00 call to Mexico on May 14. Neither repeats next month, so June should be back "
        "to about $55.",
    ),
    Playbook(
        "billing_specialist",
        r"charged twice",
        (
            ("lookup_invoice", {"account_id": "{account_id}", "period": "2025-04"}),
            (
                "issue_refund",
                {"invoice_id": "INV-2504-31802", "amount": 62.5, "reason": "duplicate payment"},
            ),
        ),
        "You're right: your April invoice of $62.50 was paid twice on April 28. I've refunded "
        "the duplicate payment of $62.50 (refund RF-88213); it will reach your card within 5 "
        "business days.",
    ),
    Playbook(
        "billing_specialist",
        r"roaming",
        (
            ("lookup_invoice", {"account_id": "{account_id}", "period": "2025-05"}),
            ("explain_charge", {"invoice_id": "INV-2505-27730", "line_id": "L2"}),
        ),
        "The $30.00 is three days of Travel Pass EU (May 9 to 11, $10 a day). Your Essentials "
        "plan doesn't include roaming in the EU, so the pass switched on when your phone first "
        "connected in Spain, as the welcome text said. If you travel often, Global Plus "
        "includes EU roaming.",
    ),
    Playbook(
        "billing_specialist",
        r"premium sms",
        (
            ("lookup_invoice", {"account_id": "{account_id}", "period": "2025-05"}),
            ("explain_charge", {"invoice_id": "INV-2505-73304", "line_id": "L2"}),
        ),
        "The $4.99 is a Premium SMS subscription to TriviaBlast (short code 44221), billed "
        "through your account since April 12. Text STOP to 44221 to end it; I can also block "
        "premium messages on your line if you'd like.",
    ),
    Playbook(
        "product_specialist",
        r"roaming",
        (("search_plans", {"query": "roaming Europe"}),),
        "Great question about roaming! For trips to Spain and the rest of the EU you can add "
        "Travel Pass EU for $10 a day, or move to Global Plus ($85 a month), which includes "
        "roaming in 40 countries. Would you like me to add a Travel Pass before your next trip?",
    ),
    Playbook(
        "product_specialist",
        r"unlimited 5G",
        (("search_plans", {"query": "unlimited 5G"}),),
        "Two plans include unlimited 5G data: Unlimited Plus at $70 a month, and Global Plus at "
        "$85 a month, which adds roaming in 40 countries. Both include 5G hotspot use up to "
        "40 GB.",
    ),
    Playbook(
        "product_specialist",
        r"5G coverage",
        (
            (
                "check_coverage",
                {"address": "1450 NW Harbor Road, Portland, OR 97209", "technology": "5G"},
            ),
        ),
        "1450 NW Harbor Road has strong 5G coverage indoors and out.",
        "I'm sorry, our coverage service isn't answering right now, so I can't confirm 5G at "
        "1450 NW Harbor Road. You can check the live map at northwind.example/coverage, or I "
        "can email you the result as soon as the service is back.",
    ),
    Playbook(
        "product_specialist",
        r"signal",
        (("check_coverage", {"address": "Fremont, Seattle, WA 98103", "technology": "4G LTE"}),),
        "It isn't your phone: a cell site serving Fremont has been down since 7:40 this morning "
        "after a fiber cut (outage OUT-7731). Crews expect it back by 2:00 pm; until then calls "
        "may drop indoors. Wi-Fi Calling will keep you connected in the meantime.",
    ),
    Playbook(
        "product_specialist",
        r"compare",
        (("compare_devices", {"models": ["Pixel 9", "iPhone 16"]}),),
        "On battery the Pixel 9 comes out ahead: about 27 hours of video playback against 22 "
        "for the iPhone 16, with a larger 4,700 mAh battery. The iPhone charges a little faster "
        "with MagSafe. Both are $0 down on a 24-month installment plan.",
    ),
    Playbook(
        "account_specialist",
        r"password",
        (
            ("get_account", {"account_id": "{account_id}"}),
            ("reset_password", {"account_id": "{account_id}", "channel": "sms"}),
        ),
        "I've sent a password reset link by text to the number ending in 0188; it works for 15 "
        "minutes. Once you've chosen a new password you can sign in to the app again.",
    ),
    Playbook(
        "account_specialist",
        r"switch me to",
        (
            ("get_account", {"account_id": "{account_id}"}),
            (
                "change_plan",
                {"account_id": "{account_id}", "plan_id": "UNL-PLUS", "effective": "next_cycle"},
            ),
        ),
        "Done: you'll move from Essentials 15GB to Unlimited Plus ($70 a month) on June 18, at "
        "the start of your next billing cycle. Confirmation CHG-55102 is on its way by email.",
    ),
)

NO_PLAYBOOK_REPLY = (
    "I'm sorry, I can't help with that here. I've noted your question and a colleague will "
    "get back to you by email within one business day."
)

CONVERSATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NW-20417", ("My bill this month is $23 higher than usual. What happened?",)),
    ("NW-31802", ("I was charged twice for my April payment. Can I get a refund?",)),
    ("NW-27730", ("Why was I charged for roaming in Spain? I thought my plan covered the EU.",)),
    ("NW-15566", ("Which plans include unlimited 5G data?",)),
    ("NW-40921", ("Is there 5G coverage at 1450 NW Harbor Road, Portland, OR 97209?",)),
    ("NW-52208", ("My signal keeps dropping at home in Seattle (98103). Is there an outage?",)),
    ("NW-61190", ("How does the Pixel 9 compare with the iPhone 16 on battery life?",)),
    (
        "NW-73304",
        (
            "I forgot my password and now I'm locked out of the app.",
            "Thanks! While I have you, what's the $4.99 Premium SMS fee on my invoice?",
        ),
    ),
    ("NW-80012", ("Please switch me to the Unlimited Plus plan starting next billing cycle.",)),
)
"""(account id, the customer's messages): one trace per message, one conversation id each."""


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded generator: the same seed gives the same ids, so a store
    that upserts by (trace_id, span_id) takes the same run twice without duplicates."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


@dataclass
class SimulatedClock:
    """The time the spans say it is; `advance` instead of sleeping."""

    now_ns: int

    def advance(self, milliseconds: float) -> None:
        self.now_ns += int(milliseconds * 1_000_000)


@dataclass(frozen=True)
class TurnResult:
    """One customer message and what the agent did with it (one trace)."""

    trace_id: str
    conversation_id: str
    user_id: str
    question: str
    route: str
    answer: str
    tool_errors: tuple[str, ...] = ()


@dataclass
class ModelReply:
    message: dict[str, Any]
    input_tokens: int
    output_tokens: int
    latency_ms: float
    response_id: str
    tool_call: tuple[str, str, dict[str, Any]] | None = None  # (call id, tool name, arguments)


def _text(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def _message_text(message: dict[str, Any]) -> str:
    return " ".join(
        str(part.get("content", "")) for part in message["parts"] if part["type"] == "text"
    )


def _tokens(value: Any) -> int:
    """A deterministic stand-in for a tokenizer: the estimate tracejudge makes where none reports."""
    return estimate_tokens(value)


def parse_routing_rules(prompt: str) -> tuple[list[tuple[list[str], str]], str | None]:
    """The numbered 'keywords -> specialist' rules of a router prompt, in order, and the
    specialist named in its 'If no rule matches' line."""
    rules = [
        ([kw.strip().lower() for kw in match[1].split(",") if kw.strip()], match[2])
        for match in re.finditer(r"^\s*\d+\.\s*(.+?)\s*->\s*(\w+)\s*$", prompt, re.MULTILINE)
    ]
    fallback = re.search(r"If no rule matches, answer (\w+)", prompt)
    return rules, fallback[1] if fallback else None


class ScriptedModel:
    """Plays the LLM: the router follows the keyword rules in its system prompt; a specialist
    follows the first playbook whose pattern matches the customer's latest message."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def chat(
        self, agent: str, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] = ()
    ) -> ModelReply:
        latest = next(m for m in reversed(messages) if m["role"] == "user")
        question = _message_text(latest)
        if agent == ROUTER:
            rules, fallback = parse_routing_rules(_message_text(messages[0]))
            route = next(
                (
                    specialist
                    for keywords, specialist in rules
                    if any(
                        re.search(rf"\b{re.escape(kw)}\b", question, re.IGNORECASE)
                        for kw in keywords
                    )
                ),
                fallback or SPECIALISTS[0],
            )
            return self._reply(messages, tools, _text("assistant", route), "stop", (300, 650))
        done = messages[messages.index(latest) + 1 :]
        results = [p for m in done if m["role"] == "tool" for p in m["parts"]]
        playbook = next(
            (
                p
                for p in PLAYBOOKS
                if p.specialist == agent and re.search(p.pattern, question, re.IGNORECASE)
            ),
            None,
        )
        if playbook is not None and len(results) < len(playbook.tool_calls):
            name, arguments = playbook.tool_calls[len(results)]
            # Like a real model, it takes the account id from its system prompt.
            signed_in = re.search(r"signed in as account (\S+?)\.", _message_text(messages[0]))
            account_id = signed_in[1] if signed_in else "unknown"
            arguments = {
                k: v.format(account_id=account_id) if isinstance(v, str) else v
                for k, v in arguments.items()
            }
            call_id = f"call_{self._rng.getrandbits(96):024x}"
            part = {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}
            reply = self._reply(
                messages, tools, {"role": "assistant", "parts": [part]}, "tool_call", (450, 900)
            )
            reply.tool_call = (call_id, name, arguments)
            return reply
        failed = any(isinstance(r["response"], dict) and "error" in r["response"] for r in results)
        if playbook is None:
            answer = NO_PLAYBOOK_REPLY
        else:
            answer = (
                playbook.reply_on_error if failed and playbook.reply_on_error else playbook.reply
            )
        return self._reply(messages, tools, _text("assistant", answer), "stop", (900, 1800))

    def _reply(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        message: dict[str, Any],
        finish_reason: str,
        latency_range: tuple[int, int],
    ) -> ModelReply:
        message["finish_reason"] = finish_reason
        return ModelReply(
            message=message,
            input_tokens=_tokens(list(messages)) + (_tokens(list(tools)) if tools else 0),
            output_tokens=_tokens(message["parts"]),
            latency_ms=self._rng.uniform(*latency_range),
            response_id=f"chatcmpl-{self._rng.getrandbits(120):030x}",
        )


@dataclass
class SupportAgent:
    """The router and its specialists, instrumented with GenAI spans on a simulated clock."""

    tracer: Tracer
    clock: SimulatedClock
    model: ScriptedModel
    rng: random.Random
    router_prompt: str = ROUTER_SYSTEM_PROMPT
    own_trace: bool = True
    """Start a new trace for each message; False nests each turn under the current span (as an
    evaluation target, inside the root span the evaluation records)."""
    _errors: list[str] = field(default_factory=list)

    @contextmanager
    def _span(
        self, name: str, kind: SpanKind, attributes: dict[str, Any], *, root: bool = False
    ) -> Iterator[Span]:
        with self.tracer.start_as_current_span(
            name,
            # A new trace for each customer message, even if the caller is inside a span.
            context=otel_context.Context() if root and self.own_trace else None,
            kind=kind,
            attributes=attributes,
            start_time=self.clock.now_ns,
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            finally:
                span.end(end_time=self.clock.now_ns)

    def _common(self, conversation_id: str) -> dict[str, Any]:
        return {"gen_ai.provider.name": PROVIDER, "gen_ai.conversation.id": conversation_id}

    def _chat(
        self,
        agent: str,
        messages: list[dict[str, Any]],
        conversation_id: str,
        tools: Sequence[dict[str, Any]] = (),
    ) -> ModelReply:
        attributes = {
            "gen_ai.operation.name": "chat",
            **self._common(conversation_id),
            "gen_ai.request.model": MODEL,
            "gen_ai.request.temperature": 0.0,
            "gen_ai.request.max_tokens": 512,
            "gen_ai.input.messages": json.dumps(messages, ensure_ascii=False),
        }
        if tools:
            attributes["gen_ai.tool.definitions"] = json.dumps(list(tools), ensure_ascii=False)
        with self._span(f"chat {MODEL}", SpanKind.CLIENT, attributes) as span:
            reply = self.model.chat(agent, messages, tools)
            self.clock.advance(reply.latency_ms)
            span.set_attributes(
                {
                    "gen_ai.response.model": RESPONSE_MODEL,
                    "gen_ai.response.id": reply.response_id,
                    "gen_ai.response.finish_reasons": [reply.message["finish_reason"]],
                    "gen_ai.usage.input_tokens": reply.input_tokens,
                    "gen_ai.usage.output_tokens": reply.output_tokens,
                    "gen_ai.output.messages": json.dumps([reply.message], ensure_ascii=False),
                }
            )
        return reply

    def _execute_tool(
        self, call_id: str, name: str, arguments: dict[str, Any], conversation_id: str
    ) -> Any:
        tool = backend.TOOLS[name]
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": tool.description,
            "gen_ai.tool.call.arguments": json.dumps(arguments, ensure_ascii=False),
            "gen_ai.conversation.id": conversation_id,
        }
        with self._span(f"execute_tool {name}", SpanKind.INTERNAL, attributes) as span:
            self.clock.advance(self.rng.uniform(0.6, 1.4) * tool.latency_ms)
            try:
                result = tool.run(**arguments)
            except backend.ToolFailure as exc:
                self.clock.advance(exc.elapsed_ms)
                span.record_exception(exc, timestamp=self.clock.now_ns)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute("error.type", exc.error_type)
                self._errors.append(name)
                return {"error": str(exc)}
            span.set_attribute("gen_ai.tool.call.result", json.dumps(result, ensure_ascii=False))
            return result

    def _invoke_specialist(
        self, specialist: str, account_id: str, history: list[dict[str, Any]], conversation_id: str
    ) -> str:
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            **self._common(conversation_id),
            "gen_ai.agent.name": specialist,
            "gen_ai.agent.description": SPECIALIST_DESCRIPTIONS[specialist],
            "gen_ai.request.model": MODEL,
            "gen_ai.input.messages": json.dumps(history[-1:], ensure_ascii=False),
        }
        tools = [backend.TOOLS[name].definition() for name in backend.TOOLS_BY_AGENT[specialist]]
        system = _text("system", SPECIALIST_PROMPTS[specialist].format(account_id=account_id))
        messages = [system, *history]
        with self._span(f"invoke_agent {specialist}", SpanKind.INTERNAL, attributes) as span:
            while True:
                self.clock.advance(self.rng.uniform(2, 15))
                reply = self._chat(specialist, messages, conversation_id, tools)
                messages.append({k: v for k, v in reply.message.items() if k != "finish_reason"})
                if reply.tool_call is None:
                    break
                call_id, name, arguments = reply.tool_call
                self.clock.advance(self.rng.uniform(1, 5))
                result = self._execute_tool(call_id, name, arguments, conversation_id)
                part = {"type": "tool_call_response", "id": call_id, "response": result}
                messages.append({"role": "tool", "parts": [part]})
            span.set_attribute(
                "gen_ai.output.messages", json.dumps([reply.message], ensure_ascii=False)
            )
        return _message_text(reply.message)

    def handle(
        self, account_id: str, conversation_id: str, history: list[dict[str, Any]], question: str
    ) -> TurnResult:
        """Answer one customer message (one trace); `history` holds the conversation so far and
        gets this turn's question and answer appended."""
        self._errors = []
        history.append(_text("user", question))
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            **self._common(conversation_id),
            "gen_ai.agent.name": ROUTER,
            "gen_ai.agent.description": SPECIALIST_DESCRIPTIONS[ROUTER],
            "gen_ai.request.model": MODEL,
            "user.id": account_id,
            "gen_ai.input.messages": json.dumps(history[-1:], ensure_ascii=False),
        }
        with self._span(f"invoke_agent {ROUTER}", SpanKind.INTERNAL, attributes, root=True) as root:
            self.clock.advance(self.rng.uniform(1, 4))
            decision = self._chat(
                ROUTER, [_text("system", self.router_prompt), *history], conversation_id
            )
            route = _message_text(decision.message).strip()
            if route not in SPECIALISTS:  # a model can answer anything; the desk takes the rest
                route = "account_specialist"
            root.set_attribute("northwind.route", route)
            self.clock.advance(self.rng.uniform(1, 3))
            answer = self._invoke_specialist(route, account_id, history, conversation_id)
            self.clock.advance(self.rng.uniform(1, 3))
            reply = {**_text("assistant", answer), "finish_reason": "stop"}
            root.set_attribute("gen_ai.output.messages", json.dumps([reply], ensure_ascii=False))
            trace_id = format(root.get_span_context().trace_id, "032x")
        history.append(_text("assistant", answer))
        return TurnResult(
            trace_id, conversation_id, account_id, question, route, answer, tuple(self._errors)
        )


def build_conversations(
    tracer_provider: TracerProvider,
    *,
    seed: int = DEMO_SEED,
    start_ns: int = DEMO_START_NS,
    router_prompt: str = ROUTER_SYSTEM_PROMPT,
) -> list[TurnResult]:
    """Run every scripted conversation through the support agent, making spans with a tracer
    from `tracer_provider`. Same seed, start time and id generator: same spans."""
    rng = random.Random(seed)
    clock = SimulatedClock(start_ns)
    agent = SupportAgent(
        tracer=tracer_provider.get_tracer("northwind.support", "1.4.0"),
        clock=clock,
        model=ScriptedModel(rng),
        rng=rng,
        router_prompt=router_prompt,
    )
    results = []
    for account_id, messages in CONVERSATIONS:
        conversation_id = f"conv_{rng.getrandbits(96):024x}"
        history: list[dict[str, Any]] = []
        for question in messages:
            results.append(agent.handle(account_id, conversation_id, history, question))
            clock.advance(rng.uniform(20_000, 90_000))  # the customer reads, types, comes back
    return results


def demo_resource() -> Resource:
    """The resource every demo span carries (service name, version, environment)."""
    return Resource.create(RESOURCE_ATTRIBUTES)
