"""Fixtures for optimization: the scripted OpenAI-compatible server, settings pointing at it,
telecom-support traces with human labels of their routing, a routing judge, and scripted judge
and reflection models: the judge knows roaming belongs to technical support only when its
instructions say so, and the reflection model proposes that rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcp_server.judges import service
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database, SpanIn, write_spans
from store.assessments import log_assessment, new_assessment
from tests.support.scripted_openai import Reply, ScriptedOpenAI, json_reply, scripted_openai, scripted_settings, text

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

__all__ = ["scripted_openai"]


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    """The default judge (and reflection) model is served by the scripted server, retries in
    milliseconds. gpt-4o-mini is in litellm's price map, so calls cost something."""
    return scripted_settings(scripted_openai)


SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def trace_id(n: int) -> str:
    return f"{n + 1:032x}"


def topic(n: int) -> str:
    """Every third support request is about roaming, which belongs to technical support."""
    return "roaming" if n % 3 == 0 else "billing"


def write_traces(db: Database, count: int) -> list[str]:
    """`count` telecom-support traces, each routed to billing; the roaming ones are misrouted."""
    write_spans(db, [
        SpanIn(
            trace_id=trace_id(n), span_id=f"{n + 1:016x}", name="support-router", span_type="AGENT",
            start_ns=T0 + n * SECOND, end_ns=T0 + n * SECOND + SECOND // 2,
            inputs_json=json.dumps({"request": f"ticket {n}: a question about my {topic(n)} charges", "topic": topic(n)}),
            outputs_json=json.dumps({"routed_to": "billing"}),
        )
        for n in range(count)
    ])
    return [trace_id(n) for n in range(count)]


NAME = "routing_ok"
INSTRUCTIONS = "Was the request in {{ inputs }} sent to the right team, judging by {{ outputs }}? Answer yes or no."
RULE = "Roaming questions belong to technical support, never to billing."


def routed_right(n: int) -> bool:
    return topic(n) != "roaming"


class ScriptedModels:
    """The judge says 'yes' to every routing unless its instructions carry RULE; the reflection
    model proposes the instructions with RULE (or `proposal`)."""

    def __init__(self, proposal: str = f"{INSTRUCTIONS} {RULE}") -> None:
        self.proposal = proposal
        self.judgments = 0
        self.reflections: list[str] = []

    def __call__(self, request: dict[str, Any]) -> Reply:
        system = request["messages"][0]
        if system["role"] == "system" and "careful evaluator" in system["content"]:
            self.judgments += 1
            prompt = request["messages"][1]["content"]
            wrong = RULE in prompt and '"topic": "roaming"' in prompt
            return json_reply({"rationale": "the team fits the request" if not wrong else "roaming is technical",
                               "value": "no" if wrong else "yes"}, prompt_tokens=200, completion_tokens=20)
        self.reflections.append(request["messages"][0]["content"])
        return text(f"Better instructions:\n```\n{self.proposal}\n```")


def label(db: Database, count: int) -> None:
    """Human labels: true/false, and some in the words a person types."""
    write_traces(db, count)
    for n in range(count):
        value: object = routed_right(n)
        if n % 4 == 1:
            value = "pass" if value else "fail"
        log_assessment(db, new_assessment(trace_id(n), NAME, value, source_type="HUMAN", source_id="expert"))


@pytest.fixture
def routing_judge(db: Database) -> None:
    """The stored judge NAME, version 1, with INSTRUCTIONS."""
    service.create_judge(db, NAME, INSTRUCTIONS, output={"kind": "categorical", "categories": ["yes", "no"]},
                          description="Is the request routed to the right team?", models=OPERATOR)
