"""Facts about the Northwind demo agent that tests check against: the question its shipped router
prompt misroutes, and the router prompt that fixes it (billing keywords checked before product
ones, the fix an optimizer is expected to find); and the scripted models of the improvement loop
(tests/test_improvement_loop.py in process, examples/improvement_loop.py against a real server).

The scripted models: the routing judge knows the right specialist for each message (the router's
rules with billing first) but has one blind spot until its instructions say otherwise: it thinks
plan changes are not the account specialist's. The reflection model proposes the billing-first
router prompt, or the judge's instructions with the missing rule, depending on what it is asked
to improve.
"""

from __future__ import annotations

import json
import re
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT, build_conversations, demo_resource, parse_routing_rules
from mcp_server.ingest.otlp import decode_request
from store import Database, write_spans
from tests.support.scripted_openai import Reply, json_reply, text

MISROUTED = "Why was I charged for roaming in Spain?"
"""The demo question the router sends to the wrong specialist."""

BILLING_FIRST = ROUTER_SYSTEM_PROMPT.replace(
    "1. roaming, coverage, signal, 5G, plans, compare, phone, device -> product_specialist\n"
    "2. bill, invoice, charge, charged, fee, refund, payment -> billing_specialist",
    "1. bill, invoice, charge, charged, fee, refund, payment -> billing_specialist\n"
    "2. roaming, coverage, signal, 5G, plans, compare, phone, device -> product_specialist",
)
assert BILLING_FIRST != ROUTER_SYSTEM_PROMPT, "the demo's router rules changed: update BILLING_FIRST"

INSTRUCTIONS = (
    "A customer wrote {{ inputs }} to Northwind Mobile's support agent, which answered {{ outputs }}. "
    "Was the message handed to the right specialist? Answer yes or no."
)
PLAN_RULE = "Plan changes on an existing account belong to the account specialist."
EXTRA_CASES = [
    "I was charged a roaming fee in France last week.",
    "Why is there a roaming charge on my invoice?",
    "Please switch my plan to Basic from next month.",
    "Can you switch my line to the Family plan?",
    "Switch me to the prepaid plan, please.",
]
DEMO_ROUTES = {turn.question: turn.route for turn in build_conversations(TracerProvider())}


def new_agent_traces(db: Database) -> list[str]:
    """The agent answers its ten scripted messages once more: ten new traces (fresh ids, as a live
    agent makes), through the OTLP decoder into `db`. Returns their trace ids."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=demo_resource())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    turns = build_conversations(provider)
    provider.shutdown()
    batch = decode_request(encode_spans(exporter.get_finished_spans()).SerializeToString(), "protobuf")
    write_spans(db, batch.spans)
    return [turn.trace_id for turn in turns]


def route(prompt: str, question: str) -> str:
    """Where a router following `prompt`'s keyword rules sends `question` (as the scripted agent does)."""
    rules, fallback = parse_routing_rules(prompt)
    for keywords, specialist in rules:
        if any(re.search(rf"\b{re.escape(k)}\b", question, re.IGNORECASE) for k in keywords):
            return specialist
    return fallback or "account_specialist"


def truth(question: str) -> str:
    return route(BILLING_FIRST, question)


def question_of(text_with_inputs: str) -> str:
    known = [*DEMO_ROUTES, *EXTRA_CASES]
    return next(q for q in known if json.dumps(q)[1:-1] in text_with_inputs or q in text_with_inputs)


def specialist_of(question: str, outputs_text: str) -> str:
    """The specialist that answered: named in a target's output, else the demo's recorded route."""
    named = re.search(r'\\?"specialist\\?":\s*\\?"(\w+)', outputs_text)
    return named[1] if named else DEMO_ROUTES[question]


class ScriptedModels:
    def __init__(self) -> None:
        self.judgments = 0
        self.reflections: list[str] = []

    def __call__(self, request: dict[str, Any]) -> Reply:
        messages = request["messages"]
        if "careful evaluator" in str(messages[0].get("content")):
            self.judgments += 1
            prompt = "\n".join(str(m.get("content")) for m in messages[1:])
            question = question_of(prompt)
            answered_by = specialist_of(question, prompt)
            right = answered_by == truth(question)
            if PLAN_RULE not in prompt and answered_by == "account_specialist" and "plan" in question.lower():
                right = False  # the blind spot: plan changes look like product questions to it
            return json_reply(
                {"rationale": f"handled by {answered_by}", "value": "yes" if right else "no"},
                prompt_tokens=400, completion_tokens=30,
            )
        asked = "\n".join(str(m.get("content")) for m in messages)
        self.reflections.append(asked)
        if "Keyword rules" in asked:
            return text(f"Billing keywords must be checked before product ones:\n```\n{BILLING_FIRST}\n```")
        return text(f"Add the rule about plan changes:\n```\n{INSTRUCTIONS} {PLAN_RULE}\n```")


class NamingModels:
    """The routing judge (ScriptedModels), and the model that names issues (DiscoverIssues): it
    calls the group whose excerpts mention a timeout 'Coverage checks time out', any other 'Billing
    questions sent to the product specialist', and gives an issue it knows its existing id."""

    def __init__(self) -> None:
        self.judge = ScriptedModels()
        self.namings: list[dict[str, Any]] = []

    def __call__(self, request: dict[str, Any]) -> Reply:
        system = str(request["messages"][0]["content"])
        if "You name the problems" not in system:
            return self.judge(request)
        data = json.loads(request["messages"][1]["content"].split("\n", 1)[1].rsplit("\n", 1)[0])
        self.namings.append(data)
        issues = []
        for group in data["groups"]:
            timeout = "did not answer" in " ".join(group["excerpts"])
            known = [k["issue_id"] for k in data["known_issues"] if ("time out" in k["title"]) == timeout]
            issues.append({
                "groups": [group["group"]], "existing_issue_id": known[0] if known else None,
                "title": "Coverage checks time out" if timeout else "Billing questions sent to the product specialist",
                "description": "scripted", "category": "Timeout Issues" if timeout else "Tool Selection Errors",
                "severity": "high" if timeout else "medium",
                "root_cause": "the coverage API is slow" if timeout else "product keywords are checked before billing ones",
            })  # fmt: skip
        return json_reply({"issues": issues}, prompt_tokens=500, completion_tokens=80)
