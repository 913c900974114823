"""The scripted Northwind support agent: deterministic spans, a router that follows its prompt."""

from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_server.demo.agent import (
    DEMO_SEED,
    ROUTER_SYSTEM_PROMPT,
    SeededIdGenerator,
    TurnResult,
    build_conversations,
    demo_resource,
    parse_routing_rules,
)

ROUTES = [
    "billing_specialist", "billing_specialist", "product_specialist", "product_specialist",
    "product_specialist", "product_specialist", "product_specialist", "account_specialist",
    "billing_specialist", "account_specialist",
]  # fmt: skip


def run(**kwargs) -> tuple[list[TurnResult], bytes]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=demo_resource(), id_generator=SeededIdGenerator(DEMO_SEED))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    turns = build_conversations(provider, **kwargs)
    provider.shutdown()
    return turns, encode_spans(exporter.get_finished_spans()).SerializeToString()


def with_billing_rule_first(prompt: str) -> str:
    lines = prompt.splitlines()
    product = next(i for i, line in enumerate(lines) if line.startswith("1. roaming"))
    lines[product], lines[product + 1] = lines[product + 1], lines[product]
    return "\n".join(lines)


def test_build_conversations_with_the_same_seed_and_ids_makes_byte_identical_spans():
    first_turns, first = run()
    second_turns, second = run()
    assert first == second
    assert first_turns == second_turns
    assert len({turn.trace_id for turn in first_turns}) == 10


def test_a_different_seed_changes_conversation_ids_but_not_what_the_agent_does():
    turns, _ = run()
    other, _ = run(seed=DEMO_SEED + 1)
    assert [t.conversation_id for t in turns] != [t.conversation_id for t in other]
    assert [(t.route, t.answer) for t in turns] == [(t.route, t.answer) for t in other]


def test_the_shipped_router_prompt_sends_the_roaming_charge_to_product():
    turns, _ = run()
    assert [turn.route for turn in turns] == ROUTES
    roaming = turns[2]
    assert "charged for roaming" in roaming.question
    assert "Travel Pass" in roaming.answer and "$30.00" not in roaming.answer


def test_the_router_follows_the_rules_written_in_its_prompt():
    turns, _ = run(router_prompt=with_billing_rule_first(ROUTER_SYSTEM_PROMPT))
    assert [turn.route for turn in turns] == ["billing_specialist"] * 3 + ROUTES[3:]
    assert "The $30.00 is three days of Travel Pass EU" in turns[2].answer


def test_parse_routing_rules_reads_numbered_rules_in_order_and_the_fallback():
    rules, fallback = parse_routing_rules(ROUTER_SYSTEM_PROMPT)
    assert [specialist for _, specialist in rules] == [
        "product_specialist", "billing_specialist", "account_specialist",
    ]  # fmt: skip
    assert "roaming" in rules[0][0] and "charged" in rules[1][0]
    assert fallback == "account_specialist"


def test_only_the_coverage_lookup_in_oregon_fails():
    turns, _ = run()
    assert [turn.tool_errors for turn in turns if turn.tool_errors] == [("check_coverage",)]


def test_build_conversations_never_sleeps(monkeypatch: pytest.MonkeyPatch):
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s; the clock is simulated")

    monkeypatch.setattr(time, "sleep", no_sleep)
    turns, _ = run()
    assert len(turns) == 10
