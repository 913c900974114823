"""Golden fixtures: what real instrumentation libraries export (tests/data/instrumentation/, one
folder per setup, recorded by record_spans.py there), sent to a live server's OTLP endpoint exactly
as the exporter sent it, request by request, and read back through the MCP client.

Each recording is the same weather agent: the model asks for get_weather(city="Paris"), the tool
answers, the model answers. What is pinned is what a user of that library sees: the trace's
previews (the question and the answer, as text), token totals and cost (null where the library
reports none), trace metadata and session, every span's type, and the tool span's name, inputs
and outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mcp_server.settings import Settings
from tests.support.live_server import LiveServer, start_live_server
from tests.support.mcp_session import Session, session

FIXTURES = Path(__file__).parents[3] / "data" / "instrumentation"
QUESTION = "What is the weather in Paris?"
ANSWER = "It is sunny and 21 °C in Paris."
TOOL_RESULT = "sunny, 21 °C"


@dataclass(frozen=True)
class Expected:
    """What one recording must show; a trace is picked by its root span's name."""

    root: str
    span_types: dict[str, set[str]]
    tokens: tuple[int | None, int | None, int | None] = (120, 22, 142)
    cost: float | None = None
    session_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tool_span: str | None = None
    tool_inputs: Any = None
    raw_tool_inputs: tuple[str, Any] | None = None
    response: str = ANSWER


EXPECTED = {
    "otel-openai-v2": Expected(
        root="handle_request",
        span_types={"handle_request": {"UNKNOWN"}, "chat gpt-4o-mini": {"CHAT_MODEL"}},
    ),
    "openinference-openai": Expected(
        root="handle_request",
        span_types={"handle_request": {"UNKNOWN"}, "ChatCompletion": {"LLM"}},
    ),
    "openinference-openai-agents": Expected(
        root="Agent workflow",
        span_types={"Agent workflow": {"AGENT", "CHAIN"}, "Weather agent": {"AGENT"}, "turn": {"CHAIN"},
                    "response": {"LLM"}, "get_weather": {"TOOL"}},
        tool_span="get_weather",
        tool_inputs={"city": "Paris"},
    ),
    "openinference-langgraph": Expected(
        root="LangGraph",
        span_types={"LangGraph": {"CHAIN"}, "agent": {"AGENT"}, "tools": {"CHAIN"}, "ChatOpenAI": {"LLM"},
                    "get_weather": {"TOOL"}, "Prompt": {"CHAIN"}, "RunnableSequence": {"CHAIN"},
                    "call_model": {"CHAIN"}, "should_continue": {"CHAIN"}},
        session_id="thread-7",
        # From the root; the per-node langgraph_node / langgraph_step differ from span to span.
        metadata={"thread_id": "thread-7", "ls_integration": "langgraph"},
        tool_span="get_weather",
        tool_inputs="Paris",
    ),
    "openinference-llama-index": Expected(
        root="FunctionAgent.run",
        span_types={"FunctionAgent.run": {"CHAIN"}, "OpenAI.astream_chat": {"LLM"},
                    "OpenAI._prepare_chat_with_tools": {"LLM"}, "FunctionTool.acall": {"TOOL"}},
        # A streamed answer carries no usage: the trace's tokens are unknown, not 0.
        tokens=(None, None, None),
        tool_span="FunctionTool.acall",
        tool_inputs={"city": "Paris"},
        raw_tool_inputs=("input.value", {"kwargs": {"city": "Paris"}}),
    ),
    "traceloop": Expected(
        root="weather_workflow.workflow",
        span_types={"weather_workflow.workflow": {"WORKFLOW"}, "openai.chat": {"CHAT_MODEL"},
                    "get_weather.tool": {"TOOL"}},
        session_id="session-7",
        tool_span="get_weather.tool",
        tool_inputs={"city": "Paris"},
        raw_tool_inputs=("traceloop.entity.input", {"args": [], "kwargs": {"city": "Paris"}}),
    ),
    "mlflow-autolog": Expected(
        root="weather_agent",
        span_types={"weather_agent": {"AGENT"}, "Completions": {"CHAT_MODEL"}, "get_weather": {"TOOL"}},
        tool_span="get_weather",
        tool_inputs={"city": "Paris"},
    ),
    "pydantic-ai": Expected(
        root="invoke_agent weather_agent",
        span_types={"invoke_agent weather_agent": {"AGENT"}, "chat gpt-4o-mini": {"CHAT_MODEL"},
                    "execute_tool get_weather": {"TOOL"}},
        # The agent span's aggregated usage repeats its model calls': counted once.
        cost=1.35e-05 + 1.77e-05,
        session_id="01a233be-1aa8-71eb-9c2e-a3fc8593cfc8",  # gen_ai.conversation.id
        tool_span="execute_tool get_weather",
        tool_inputs={"city": "Paris"},
    ),
    "vercel-ai-chat": Expected(
        root="ai.generateText",
        span_types={"ai.generateText": {"AGENT"}, "ai.generateText.doGenerate": {"LLM"}, "ai.toolCall": {"TOOL"}},
        session_id="session-7",
        metadata={"sessionId": "session-7", "tier": "free"},
        tool_span="ai.toolCall",
        tool_inputs={"city": "Paris"},
    ),
}
EXPECTED["vercel-ai-responses"] = EXPECTED["vercel-ai-chat"]
EXPECTED["vercel-ai-otlp-json"] = EXPECTED["vercel-ai-chat"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server holding every recording, each posted request by request as recorded."""
    live = start_live_server(Settings(db_path=tmp_path_factory.mktemp("fixtures") / "traces.db", port=0))
    try:
        for folder in sorted(FIXTURES.iterdir()):
            if (folder / "otlp.json").exists():
                for body in json.loads((folder / "otlp.json").read_text()):
                    answer = httpx2.post(f"{live.url}/v1/traces", json=body, timeout=30)
                    assert answer.status_code == 200, (folder.name, answer.text)
                    assert "rejectedSpans" not in answer.text, (folder.name, answer.text)
        yield live
    finally:
        live.stop()


def _trace_ids(recording: str) -> list[str]:
    ids: dict[str, None] = {}
    for body in json.loads((FIXTURES / recording / "otlp.json").read_text()):
        for resource_spans in body["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    ids[span["traceId"]] = None
    return list(ids)


async def _spans(client: Session, trace_id: str) -> list[dict[str, Any]]:
    return (await client.call("ListSpans", trace_id=trace_id, max_results=500))["spans"]


def test_every_setup_in_the_data_folder_has_its_expectations():
    recorded = {p.parent.name for p in FIXTURES.glob("*/otlp.json") if p.parent.name in EXPECTED}
    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("recording", sorted(EXPECTED))
async def test_a_recording_reads_back_as_its_user_would_expect(server: LiveServer, recording: str):
    expected = EXPECTED[recording]
    (trace_id,) = _trace_ids(recording)
    async with session(server.db) as client:
        info = await client.call("GetTraceInfo", trace_id=trace_id)
        assert info["name"] == expected.root
        assert (info["request_preview"], info["response_preview"]) == (QUESTION, expected.response)
        assert (info["input_tokens"], info["output_tokens"], info["total_tokens"]) == expected.tokens
        assert info["cost"] == pytest.approx(expected.cost) if expected.cost is not None else info["cost"] is None
        assert info["session_id"] == expected.session_id
        assert info["metadata"] == expected.metadata
        spans = await _spans(client, trace_id)
        shown: dict[str, set[str]] = {}
        for span in spans:
            shown.setdefault(span["name"], set()).add(span["span_type"])
        assert {name: types for name, types in shown.items() if name in expected.span_types} == expected.span_types
        if expected.tool_span is None:
            return
        (tool,) = [s for s in spans if s["name"] == expected.tool_span]
        detail = await client.call("GetSpan", trace_id=trace_id, span_id=tool["span_id"])
        assert detail["tool_name"] == "get_weather"
        assert detail["inputs"] == expected.tool_inputs
        assert TOOL_RESULT in json.dumps(detail["outputs"], ensure_ascii=False)
        if expected.raw_tool_inputs is not None:
            key, raw = expected.raw_tool_inputs
            assert detail["attributes"][key] == raw


async def test_litellm_cost_and_its_tool_call_turn(server: LiveServer):
    """litellm's OTel callback: each completion is a trace, with its cost in gen_ai.cost.*; the
    tool-call turn's gen_ai.output.messages has empty parts, the call only in the flattened form."""
    call_turn, answer_turn = _trace_ids("litellm-otel")
    async with session(server.db) as client:
        call_info = await client.call("GetTraceInfo", trace_id=call_turn)
        answer_info = await client.call("GetTraceInfo", trace_id=answer_turn)
        assert (call_info["input_tokens"], call_info["output_tokens"], call_info["total_tokens"]) == (50, 10, 60)
        assert call_info["cost"] == pytest.approx(1.35e-05)
        assert answer_info["cost"] == pytest.approx(1.77e-05)
        assert (answer_info["request_preview"], answer_info["response_preview"]) == (QUESTION, ANSWER)
        assert call_info["request_preview"] == QUESTION
        assert "get_weather" in call_info["response_preview"]
        (span,) = [s for s in await _spans(client, call_turn) if s["name"] == "litellm_request"]
        detail = await client.call("GetSpan", trace_id=call_turn, span_id=span["span_id"])
        assert detail["span_type"] == "CHAT_MODEL"
        assert detail["cost"] == pytest.approx(1.35e-05)
        assert detail["outputs_source"] == "gen_ai.completion"
        assert detail["outputs"] == [{"function_call": {"arguments": '{"city": "Paris"}', "name": "get_weather"}}]
        # The empty structured form is kept as it came.
        assert detail["attributes"]["gen_ai.output.messages"] == [
            {"role": "assistant", "parts": [], "finish_reason": "tool_calls"}
        ]


async def test_pydantic_ai_agent_span_shows_its_messages_result_and_usage(server: LiveServer):
    (trace_id,) = _trace_ids("pydantic-ai")
    async with session(server.db) as client:
        root = await client.call("GetRootSpan", trace_id=trace_id)
        assert root["outputs"] == ANSWER
        assert root["inputs_source"] == "pydantic_ai.all_messages"
        assert [m["role"] for m in root["inputs"]] == ["user", "assistant", "user", "assistant"]
        assert (root["input_tokens"], root["output_tokens"], root["total_tokens"]) == (120, 22, 142)


async def test_search_traces_lists_unknown_tokens_as_null(server: LiveServer):
    (unknown,) = _trace_ids("openinference-llama-index")
    (known,) = _trace_ids("otel-openai-v2")
    async with session(server.db) as client:
        found = await client.call("SearchTraces", max_results=100)
    totals = {t["trace_id"]: t["total_tokens"] for t in found["traces"]}
    assert (totals[unknown], totals[known]) == (None, 142)
    previews = {t["trace_id"]: (t["request_preview"], t["response_preview"]) for t in found["traces"]}
    assert previews[unknown] == (QUESTION, ANSWER)


def test_the_cli_says_unknown_for_usage_no_span_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from mcp_server.cli import main

    lines = tmp_path / "llama-index.jsonl"
    bodies = json.loads((FIXTURES / "openinference-llama-index" / "otlp.json").read_text())
    lines.write_text("".join(json.dumps(body) + "\n" for body in bodies))
    db = str(tmp_path / "cli.db")
    assert main(["import", str(lines), "--db", db]) == 0
    (trace_id,) = _trace_ids("openinference-llama-index")
    capsys.readouterr()
    assert main(["show", trace_id, "--db", db]) == 0
    out = capsys.readouterr().out
    assert "tokens unknown, cost unknown" in out
    assert f"request: {QUESTION}" in out
