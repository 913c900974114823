"""Fixtures for evaluation: 200 small traces, two stored LLM judges answered by the scripted
server (value decided by the trace's number, some requests rate limited), and a code judge that
crashes on some traces."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest

from mcp_server.judges import service
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database, SpanIn, write_spans
from tests.support.scripted_openai import (
    Reply,
    ScriptedOpenAI,
    json_reply,
    rate_limited,
    scripted_openai,
    scripted_settings,
)

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

__all__ = ["scripted_openai"]

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND
TRACES = 200
CODE_JUDGE = "tests.mcp_server.evaluation.example_judges:answer_length"
JUDGES = ["helpful", "quality", CODE_JUDGE]
PROMPT_TOKENS, COMPLETION_TOKENS = 100, 10


def trace_id(n: int) -> str:
    return f"{n + 1:032x}"


def number(trace: str) -> int:
    return int(trace, 16) - 1


def helpful(n: int) -> bool:
    return n % 3 != 0


def quality(n: int) -> int:
    return n % 5 + 1


def always_rate_limited(n: int) -> bool:
    """The traces whose 'helpful' judgment meets 429 on every attempt."""
    return n % 50 == 1


def rate_limited_once(n: int) -> bool:
    """The traces whose first 'quality' request gets a 429 (the retry succeeds)."""
    return n % 10 == 3


def write_traces(db: Database, count: int = TRACES) -> list[str]:
    spans = [
        SpanIn(
            trace_id=trace_id(n),
            span_id=f"{n + 1:016x}",
            name="support-agent",
            span_type="AGENT",
            start_ns=T0 + n * SECOND,
            end_ns=T0 + n * SECOND + (n % 4 + 1) * SECOND // 2,
            inputs_json=json.dumps({"question": f"Where is my order {n}?"}),
            outputs_json=json.dumps(f"Your order ships tomorrow, ticket {n}"),
        )
        for n in range(count)
    ]
    write_spans(db, spans)
    return [trace_id(n) for n in range(count)]


@dataclass
class ScriptedJudges:
    """Answers the two LLM judges' requests by trace number, counting requests per pair."""

    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: dict) -> Reply:
        system, prompt = request["messages"][0]["content"], request["messages"][1]["content"]
        n = number(re.search(r"trace ([0-9a-f]{32})", system).group(1))
        judge = "helpful" if prompt.startswith("HELPFUL") else "quality"
        with self.lock:
            self.requests[(judge, n)] += 1
            seen = self.requests[(judge, n)]
        if judge == "helpful" and always_rate_limited(n):
            return rate_limited()
        if judge == "quality" and rate_limited_once(n) and seen == 1:
            return rate_limited()
        value = helpful(n) if judge == "helpful" else quality(n)
        return json_reply({"rationale": "scripted", "value": value},
                          prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS)


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    """The default judge model served by the scripted server, retries in milliseconds."""
    return scripted_settings(scripted_openai)


@pytest.fixture
def judged(db: Database, scripted_openai: ScriptedOpenAI) -> ScriptedJudges:
    """200 traces, the judges 'helpful' (bool) and 'quality' (1 to 5), and the scripted answers."""
    write_traces(db)
    service.create_judge(db, "helpful", "HELPFUL: does {{ outputs }} answer {{ inputs }}?", models=OPERATOR)
    service.create_judge(db, "quality", "QUALITY: rate {{ outputs }} from 1 to 5.",
                          output={"kind": "int", "minimum": 1, "maximum": 5}, models=OPERATOR)
    responder = ScriptedJudges()
    scripted_openai.respond_with(responder)
    return responder
