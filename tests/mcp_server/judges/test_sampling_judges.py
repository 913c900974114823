"""Judges through MCP sampling, end to end: a real in-process MCP client whose sampling callback
is scripted calls RunJudge, and the judge's model calls come back to that client as
sampling/createMessage requests; no model is configured on the server and no HTTP is spoken."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client, types

from mcp_server.judges.agent.prompt import UNTRUSTED_TAG, VERDICT_TOOL
from mcp_server.models import ModelSettings
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database
from tests.mcp_server.traces.builders import TRACE_ID, small_trace

YES_NO = {"kind": "categorical", "categories": ["yes", "no"]}
Answer = Callable[[types.CreateMessageRequestParams], Any]


class ScriptedSampling:
    """A sampling callback answering from a script, recording every request it got."""

    def __init__(self, *answers: Answer | Any) -> None:
        self.answers = list(answers)
        self.requests: list[types.CreateMessageRequestParams] = []

    async def __call__(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        self.requests.append(params)
        answer = self.answers.pop(0)
        return answer(params) if callable(answer) else answer


def text(value: str | dict[str, Any]) -> types.CreateMessageResult:
    body = value if isinstance(value, str) else json.dumps(value)
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=body), model="client-model", stop_reason="endTurn"
    )


def tool_use(name: str, arguments: dict[str, Any], call_id: str) -> types.CreateMessageResultWithTools:
    return types.CreateMessageResultWithTools(
        role="assistant",
        content=[types.ToolUseContent(type="tool_use", name=name, id=call_id, input=arguments)],
        model="client-model",
        stop_reason="toolUse",
    )


WITH_TOOLS = types.SamplingCapability(tools=types.SamplingToolsCapability())


@asynccontextmanager
async def client(db: Database, settings: Settings, **sampling: Any) -> AsyncIterator[Client]:
    # mode="legacy": the initialize handshake that stdio and HTTP clients (Claude Code, IDEs) speak,
    # whose connection carries server-to-client requests such as sampling during a tool call.
    async with Client(create_server(settings, db), mode="legacy", **sampling) as connected:
        yield connected


async def call(connected: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await connected.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


def request_text(params: types.CreateMessageRequestParams) -> str:
    parts = [params.system_prompt or ""]
    for message in params.messages:
        for block in message.content_as_list:
            parts.append(block.model_dump_json())
    return "\n".join(parts)


async def test_an_llm_judge_with_model_sampling_is_answered_by_the_calling_client(db: Database) -> None:
    small_trace(db)
    sampling = ScriptedSampling(text("Thinking aloud first.\n{\"rationale\": \"Refund explained.\", \"value\": \"yes\"}"))
    async with client(db, Settings(), sampling_callback=sampling) as connected:
        await call(connected, "CreateJudge", name="helpful", instructions="Did {{ outputs }} answer {{ inputs }}?",
                   output_type=YES_NO, model="sampling")
        ran = await call(connected, "RunJudge", judge="helpful", trace_id=TRACE_ID)
        found = await call(connected, "SearchTraces", filter_string="feedback.helpful = 'yes'")

    verdict = ran["verdict"]
    assert (verdict["value"], verdict["rationale"], verdict["error"]) == ("yes", "Refund explained.", None)
    # The client reports no usage: tokens are estimated (so budgets count them), cost is 0.
    assert verdict["metadata"]["model"] == "client-model" and verdict["metadata"]["input_tokens"] > 100
    assert verdict["metadata"]["output_tokens"] > 0 and verdict["metadata"]["cost_usd"] == 0
    assert verdict["metadata"]["tokens_estimated"] is True and "the client pays" in " ".join(verdict["metadata"]["warnings"])
    assert [t["trace_id"] for t in found["traces"]] == [TRACE_ID]
    [request] = sampling.requests
    # The rendered judge prompt, with the trace's data framed as untrusted, and the JSON schema.
    assert "Why was I charged twice?" in request_text(request) and "You were refunded." in request_text(request)
    assert '<untrusted_data name=\\"outputs\\">' in request_text(request)
    assert "untrusted_data" in request.system_prompt and "JSON Schema" in request.system_prompt
    assert [m.role for m in request.messages] == ["user"] and request.tools is None and request.max_tokens > 0


async def test_with_no_model_configured_run_judge_falls_back_to_the_clients_sampling(db: Database) -> None:
    small_trace(db)
    sampling = ScriptedSampling(text({"rationale": "Answered.", "value": "yes"}))
    async with client(db, Settings(), sampling_callback=sampling) as connected:
        ran = await call(connected, "RunJudge", judge="relevance_to_query", trace_id=TRACE_ID)
    assert ran["verdict"]["error"] is None and ran["verdict"]["value"] == "yes"
    assert len(sampling.requests) == 1 and "Why was I charged twice?" in request_text(sampling.requests[0])


async def test_a_configured_model_is_used_rather_than_the_clients_sampling(db: Database) -> None:
    # With a model configured, sampling is not a fallback: the (unreachable) model is tried and fails.
    small_trace(db)
    sampling = ScriptedSampling()
    settings = Settings(models=ModelSettings(
        judge_model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9", api_key="sk-x", max_attempts=1, timeout_s=5
    ))
    async with client(db, settings, sampling_callback=sampling) as connected:
        result = await connected.call_tool("RunJudge", {"judge": "relevance_to_query", "trace_id": TRACE_ID})
    assert result.is_error and "cannot be reached" in result.content[0].text and sampling.requests == []


async def test_the_agent_judge_investigates_through_the_clients_sampling_with_tool_use(db: Database) -> None:
    small_trace(db)

    def list_spans(params: types.CreateMessageRequestParams) -> types.CreateMessageResultWithTools:
        names = {t.name for t in params.tools or []}
        assert {"ListSpans", "GetSpan", VERDICT_TOOL} <= names and "LogFeedback" not in names
        return tool_use("ListSpans", {"trace_id": TRACE_ID}, "call-1")

    verdict = {"value": "issues found", "rationale": "lookup_refund failed.", "findings": []}
    sampling = ScriptedSampling(list_spans, tool_use(VERDICT_TOOL, verdict, "call-2"))
    async with client(db, Settings(), sampling_callback=sampling, sampling_capabilities=WITH_TOOLS) as connected:
        await call(connected, "CreateJudge", name="issues", instructions="Find problems in {{ trace }}.",
                   output_type={"kind": "categorical", "categories": ["issues found", "no issues"]}, model="sampling")
        ran = await call(connected, "RunJudge", judge="issues", trace_id=TRACE_ID)
        found = await call(connected, "SearchTraces", filter_string="feedback.issues = 'issues found'")

    assert ran["verdict"]["error"] is None and ran["verdict"]["value"] == "issues found"
    assert ran["verdict"]["metadata"]["tool_calls_by_tool"] == {"ListSpans": 1}
    assert [t["trace_id"] for t in found["traces"]] == [TRACE_ID]
    first, second = sampling.requests
    assert UNTRUSTED_TAG in first.system_prompt and TRACE_ID in request_text(first)
    # The second request carries the tool use and its real result from this server, framed.
    assistant, result = second.messages[-2], second.messages[-1]
    assert [(b.type, b.id) for b in assistant.content_as_list] == [("tool_use", "call-1")]
    [block] = result.content_as_list
    assert block.type == "tool_result" and block.tool_use_id == "call-1"
    assert f"<{UNTRUSTED_TAG}" in block.content[0].text and "lookup_invoice" in block.content[0].text


async def test_model_sampling_from_a_client_without_sampling_is_a_tool_error_naming_what_to_configure(
    db: Database,
) -> None:
    # Nothing was judged, so nothing is recorded: the client is told what to change.
    small_trace(db)
    async with client(db, Settings()) as connected:
        await call(connected, "CreateJudge", name="helpful", instructions="Did {{ outputs }} help?", model="sampling")
        ran = await connected.call_tool("RunJudge", {"judge": "helpful", "trace_id": TRACE_ID})
        unconfigured = await connected.call_tool("RunJudge", {"judge": "relevance_to_query", "trace_id": TRACE_ID})
        logged = await call(connected, "ListAssessments", trace_id=TRACE_ID)
    assert ran.is_error and unconfigured.is_error and logged["assessments"] == []
    error = ran.content[0].text
    assert "did not declare the sampling capability" in error and "TRACEJUDGE_JUDGE_MODEL" in error
    # No model and no sampling: the unconfigured-model message, which names both ways out.
    assert "TRACEJUDGE_JUDGE_MODEL" in unconfigured.content[0].text
    assert "sampling" in unconfigured.content[0].text


async def test_a_client_that_refuses_sampling_gives_an_error_verdict_saying_so(db: Database) -> None:
    small_trace(db)
    refuse = ScriptedSampling(types.ErrorData(code=types.INVALID_REQUEST, message="User rejected sampling request"))
    async with client(db, Settings(), sampling_callback=refuse) as connected:
        ran = await call(connected, "RunJudge", judge="relevance_to_query", trace_id=TRACE_ID)
    error = ran["verdict"]["error"]
    assert "refused or failed the sampling request" in error and "User rejected sampling request" in error


async def test_evaluate_from_a_client_with_sampling_judges_through_that_client(db: Database) -> None:
    small_trace(db)
    sampling = ScriptedSampling(text({"rationale": "Answered.", "value": "yes"}))
    async with client(db, Settings(), sampling_callback=sampling) as connected:
        run = await call(connected, "Evaluate", judges=["relevance_to_query"], trace_ids=[TRACE_ID])
        found = await call(connected, "SearchTraces", filter_string="feedback.relevance_to_query = 'yes'")
    assert (run["status"], run["errors"]) == ("completed", 0)
    assert len(sampling.requests) == 1 and "Why was I charged twice?" in request_text(sampling.requests[0])
    assert [t["trace_id"] for t in found["traces"]] == [TRACE_ID]
