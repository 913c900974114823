"""Fixtures for optimization: the scripted OpenAI-compatible server, settings pointing at it, and
telecom-support traces to label."""

from __future__ import annotations

import json

import pytest

from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database, SpanIn, write_spans
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai

__all__ = ["scripted_openai"]


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    """The default judge (and reflection) model is served by the scripted server, retries in
    milliseconds. gpt-4o-mini is in litellm's price map, so calls cost something."""
    return Settings(
        models=ModelSettings(
            judge_model="openai:/gpt-4o-mini",
            api_base=scripted_openai.url,
            api_key="sk-scripted",
            max_attempts=2,
            initial_backoff_s=0.001,
            max_backoff_s=0.005,
            timeout_s=10,
        )
    )


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
