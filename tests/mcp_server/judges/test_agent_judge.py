"""The built-in Agent-as-a-Judge end to end: litellm's real HTTP code against the scripted server,
the real in-process MCP client and server, over a store holding the Northwind demo traces.

Every test asserts on what the scripted server recorded: the requests the judge really sent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server.judges.agent.judge import AgentLimits, run_agent_judge
from mcp_server.judges.agent.prompt import TRACE_ISSUES, TRAIL_CATEGORIES, VERDICT_TOOL
from mcp_server.judges.definition import JudgeDefinition, OutputType
from mcp_server.models import ModelNotConfigured, ModelSettings
from store import Database
from store.assessments import Finding, log_assessment, new_assessment
from tests.support.scripted_openai import (
    ScriptedOpenAI,
    context_length_exceeded,
    error,
    json_reply,
    scripted_openai,
    text,
    tool_calls,
)

__all__ = ["scripted_openai"]

ROUTING = JudgeDefinition(
    name="routing_accuracy",
    instructions="Was the customer's question in {{ trace }} routed to the specialist who can answer it?",
    output=OutputType(kind="categorical", categories=["yes", "no"]),
)


def on(scripted: ScriptedOpenAI, model: str = "openai/scripted-model") -> ModelSettings:
    """Settings whose default judge model is served by the scripted server."""
    return ModelSettings(judge_model=model, api_base=scripted.url, api_key="sk-scripted",
                         max_attempts=1, timeout_s=10)


async def spans_of(server: MCPServer, trace_id: str) -> list[dict[str, Any]]:
    async with Client(server) as client:
        result = await client.call_tool("ListSpans", {"trace_id": trace_id})
    return result.structured_content["spans"]


async def router_span(server: MCPServer, trace_id: str) -> str:
    """The router's model call: the first chat span under the root."""
    spans = await spans_of(server, trace_id)
    root = next(s for s in spans if s["parent_span_id"] is None)
    return next(s["span_id"] for s in spans if s["parent_span_id"] == root["span_id"] and s["name"].startswith("chat"))


def verdict_call(value: Any, findings: list[dict[str, Any]] | None = None, **usage: int):
    arguments = {"value": value, "rationale": "evidence-based rationale", "findings": findings or []}
    return tool_calls((VERDICT_TOOL, arguments), **usage)


def tool_messages(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "tool"]


async def test_the_judge_investigates_the_misrouted_trace_through_mcp_and_anchors_its_finding(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    router = await router_span(server, roaming)
    finding = {"span_id": router, "category": "Tool Selection Errors",
               "evidence": "the router answered product_specialist for a billing question", "impact": "HIGH"}
    scripted_openai.push(
        tool_calls(("ListSpans", {"trace_id": roaming}), prompt_tokens=1200, completion_tokens=30),
        tool_calls(("SearchTraceRegex", {"trace_id": roaming, "pattern": "roaming"}),
                   prompt_tokens=2000, completion_tokens=25),
        tool_calls(("GetSpan", {"trace_id": roaming, "span_id": router}), prompt_tokens=3500, completion_tokens=20),
        verdict_call("no", [finding], prompt_tokens=5000, completion_tokens=120),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.error is None
    assert verdict.value == "no" and verdict.rationale == "evidence-based rationale"
    assert verdict.findings == [Finding(**finding)]
    assert verdict.judge == "routing_accuracy@1" and verdict.trace_id == roaming
    requests = scripted_openai.chat_requests
    assert len(requests) == 4
    first = requests[0].messages
    assert [m["role"] for m in first] == ["system", "user"]
    assert roaming in first[1]["content"] and "untrusted" in first[0]["content"]
    # each answer came from the real tools, through MCP, into the next request
    listed = tool_messages(requests[1].messages)[-1]
    assert router in listed and "invoke_agent product_specialist" in listed
    searched = tool_messages(requests[2].messages)[-1]
    assert '"pattern":"roaming"' in searched and "Why was I charged for" in searched
    read = tool_messages(requests[3].messages)[-1]
    assert "Keyword rules, checked in order" in read and f'"span_id":"{router}"' in read
    assert all(t.startswith('<untrusted_tool_result tool="') for t in tool_messages(requests[3].messages))
    meta = verdict.metadata
    assert meta["iterations"] == 4
    assert meta["tool_calls"] == 3
    assert meta["tool_calls_by_tool"] == {"ListSpans": 1, "SearchTraceRegex": 1, "GetSpan": 1}
    assert (meta["input_tokens"], meta["output_tokens"]) == (1200 + 2000 + 3500 + 5000, 30 + 25 + 20 + 120)
    assert meta["model"] == "openai/scripted-model" and meta["limit_hit"] is None
    assert meta["limits"]["max_iterations"] == 30 and meta["latency_s"] > 0
    assert meta["dropped_exchanges"] == 0


JUDGE_TOOLS = {"GetTraceInfo", "ListSpans", "GetSpan", "GetRootSpan", "SearchTraceRegex", "GetSpanTimingReport"}
"""What the judge may use, written out here rather than read from the code that builds its list."""


async def test_the_model_is_offered_exactly_the_read_only_trace_inspection_tools(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(verdict_call("yes"))

    await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    sent = {t["function"]["name"] for t in scripted_openai.chat_requests[0].json["tools"]}
    assert sent == JUDGE_TOOLS | {VERDICT_TOOL}
    async with Client(server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    # Read-only, and each one shows other verdicts or the labels the judge is scored against.
    for seeing in ("ListAssessments", "GetAssessment", "GetEvaluationRun", "JudgeAgreement", "ListLabelingItems",
                   "SearchTraces", "CountTraces"):
        assert listed[seeing].annotations.read_only_hint is True and seeing not in sent
    assert all(listed[name].annotations.read_only_hint is True for name in JUDGE_TOOLS)


async def test_the_judge_sees_no_verdict_or_label_logged_on_the_trace(
    scripted_openai: ScriptedOpenAI, db: Database, server: MCPServer, roaming: str
) -> None:
    verdict = new_assessment(
        roaming, "routing_verdict_by_someone_else", "no", source_type="LLM_JUDGE", source_id="other@1"
    )
    label = new_assessment(roaming, "routing_label_by_an_expert", "no", source_type="HUMAN", source_id="expert")
    log_assessment(db, verdict)
    log_assessment(db, label)
    scripted_openai.push(
        tool_calls(("GetTraceInfo", {"trace_id": roaming}),
                   ("SearchTraces", {"filter_string": "feedback.routing_verdict_by_someone_else = 'no'"}),
                   ("ListAssessments", {"trace_id": roaming})),
        verdict_call("no"),
    )

    await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    info, search, listing = tool_messages(scripted_openai.chat_requests[1].messages)
    assert '"span_count"' in info and roaming in info
    assert "assessment" not in info and "routing_verdict" not in info and "routing_label" not in info
    assert "no tool named 'SearchTraces'" in search and "no tool named 'ListAssessments'" in listing


async def test_a_write_tool_unknown_tool_bad_arguments_and_unknown_span_come_back_as_errors_and_the_loop_goes_on(
    scripted_openai: ScriptedOpenAI, db: Database, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(
        tool_calls(
            ("GetSpan", {"trace_id": roaming, "span_id": "ffffffffffffffff"}),
            ("LogFeedback", {"trace_id": roaming, "name": "x", "value": "pass"}),
            ("GetSpan", "{not json"),
        ),
        verdict_call("no"),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.error is None and verdict.value == "no"
    unknown_span, write_tool, bad_json = tool_messages(scripted_openai.chat_requests[1].messages)
    assert unknown_span.startswith('<untrusted_tool_result tool="GetSpan" status="error">')
    assert "ffffffffffffffff" in unknown_span
    assert "no tool named 'LogFeedback'" in write_tool and "<tool_error" in write_tool
    assert "not valid JSON" in bad_json
    assert db.reader().execute("SELECT count(*) FROM assessments").fetchone()[0] == 0
    assert verdict.metadata["tool_calls"] == 3


async def test_findings_on_spans_outside_the_trace_are_dropped_with_a_warning(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    router = await router_span(server, roaming)
    findings = [
        {"span_id": router.upper(), "category": "Tool Selection Errors", "evidence": "e", "impact": "HIGH"},
        {"span_id": "0123456789abcdef", "category": "Goal Deviation", "evidence": "made up", "impact": "LOW"},
    ]
    scripted_openai.push(verdict_call("no", findings))

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert [f.span_id for f in verdict.findings] == [router]  # normalized as the tools return it
    [warning] = [w for w in verdict.metadata["warnings"] if "0123456789abcdef" in w]
    assert "not a span of trace" in warning


async def test_an_invalid_value_is_sent_back_once_then_the_verdict_is_an_error(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(verdict_call("maybe"), verdict_call("perhaps"))

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.value is None
    assert "no valid verdict after one retry" in (verdict.error or "")
    assert len(scripted_openai.chat_requests) == 2
    [rejection] = tool_messages(scripted_openai.chat_requests[1].messages)
    assert "rejected" in rejection and "one of 'yes', 'no'" in rejection


async def test_an_invalid_value_corrected_on_the_retry_is_accepted(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(verdict_call("maybe"), verdict_call("no"))

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.error is None and verdict.value == "no"


async def test_a_prose_answer_is_followed_by_one_structured_request_for_the_verdict(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(
        text("I think the routing was wrong.", prompt_tokens=100, completion_tokens=8),
        json_reply({"value": "no", "rationale": "billing question sent to product", "findings": []},
                   prompt_tokens=150, completion_tokens=20),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.value == "no" and verdict.rationale == "billing question sent to product"
    final = scripted_openai.chat_requests[1]
    assert "tools" not in final.json
    assert final.messages[-2] == {"role": "assistant", "content": "I think the routing was wrong."}
    assert "answered without calling submit_verdict" in final.messages[-1]["content"]
    assert (verdict.metadata["input_tokens"], verdict.metadata["output_tokens"]) == (250, 28)


async def test_max_iterations_asks_for_the_verdict_without_tools_and_reports_the_limit(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(
        tool_calls(("CountTraces", {})),
        tool_calls(("CountTraces", {})),
        json_reply({"value": "no", "rationale": "seen enough", "findings": []}),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai),
                                    limits=AgentLimits(max_iterations=2))

    assert verdict.error is None and verdict.value == "no"
    final = scripted_openai.chat_requests[2]
    assert "tools" not in final.json
    assert "max_iterations=2" in final.messages[-1]["content"]
    assert verdict.metadata["limit_hit"] == "max_iterations"
    assert verdict.metadata["iterations"] == 3
    assert verdict.metadata["limits"]["max_iterations"] == 2


async def test_a_token_budget_that_still_fits_a_final_answer_gets_one(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    # Each call reports 10,000 input tokens; the loop stops when another step plus a verdict
    # would not fit in 40,000, and the verdict itself still does.
    scripted_openai.push(
        tool_calls(("CountTraces", {}), prompt_tokens=10_000, completion_tokens=10),
        tool_calls(("CountTraces", {}), prompt_tokens=10_000, completion_tokens=10),
        json_reply({"value": "no", "rationale": "r", "findings": []}, prompt_tokens=10_000, completion_tokens=10),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai),
                                    limits=AgentLimits(max_total_tokens=40_000))

    assert verdict.error is None and verdict.value == "no"
    assert len(scripted_openai.chat_requests) == 3 and "tools" not in scripted_openai.chat_requests[2].json
    meta = verdict.metadata
    assert meta["limit_hit"] == "max_total_tokens"
    assert meta["input_tokens"] + meta["output_tokens"] == 30_030  # under the 40,000 budget


async def test_a_token_budget_with_no_room_left_gives_an_error_naming_the_limit(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(tool_calls(("CountTraces", {}), prompt_tokens=10_000, completion_tokens=10))

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai),
                                    limits=AgentLimits(max_total_tokens=19_000))

    assert verdict.value is None and "max_total_tokens" in (verdict.error or "")
    assert len(scripted_openai.chat_requests) == 1
    assert verdict.metadata["limit_hit"] == "max_total_tokens"
    assert verdict.metadata["input_tokens"] == 10_000


@pytest.mark.parametrize(("budget", "requests", "value"), [(0.25, 1, None), (0.5, 3, "no")])
async def test_the_cost_budget_is_summed_over_every_call(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str,
    budget: float, requests: int, value: str | None,
) -> None:
    # gpt-4o-mini is in litellm's price map: 1M input tokens cost about $0.15 per call.
    scripted_openai.push(
        tool_calls(("CountTraces", {}), prompt_tokens=1_000_000, completion_tokens=10),
        tool_calls(("CountTraces", {}), prompt_tokens=1_000_000, completion_tokens=10),
        json_reply({"value": "no", "rationale": "r", "findings": []}, prompt_tokens=1_000_000, completion_tokens=10),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai, "openai/gpt-4o-mini"),
                                    limits=AgentLimits(max_cost_usd=budget))

    assert len(scripted_openai.chat_requests) == requests
    assert verdict.value == value
    meta = verdict.metadata
    assert meta["limit_hit"] == "max_cost_usd"
    assert 0.14 * requests < meta["cost_usd"] <= budget
    if value is None:
        assert "max_cost_usd" in (verdict.error or "")


async def test_the_wall_clock_timeout_ends_a_slow_judgment_with_an_error(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(verdict_call("no").after(5))

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai),
                                    limits=AgentLimits(timeout_s=0.5))

    assert verdict.value is None and "timeout_s=0.5" in (verdict.error or "")
    assert verdict.metadata["limit_hit"] == "timeout_s"
    assert verdict.metadata["latency_s"] < 4


async def test_a_context_length_error_drops_the_oldest_exchange_and_the_loop_goes_on(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(
        tool_calls(("CountTraces", {})),
        tool_calls(("GetTraceInfo", {"trace_id": roaming})),
        context_length_exceeded(),
        verdict_call("no"),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.error is None and verdict.value == "no"
    requests = scripted_openai.chat_requests
    assert len(requests) == 4
    refused, retried = requests[2].messages, requests[3].messages
    assert retried[:2] == refused[:2] == requests[0].messages[:2]  # system prompt and task kept
    assert any('tool="CountTraces"' in t for t in tool_messages(refused))
    assert not any('tool="CountTraces"' in t for t in tool_messages(retried))
    assert any('tool="GetTraceInfo"' in t for t in tool_messages(retried))
    assert "removed to fit the context window" in retried[2]["content"]
    meta = verdict.metadata
    assert (meta["dropped_exchanges"], meta["context_length_errors"], meta["iterations"]) == (1, 1, 3)


async def test_a_conversation_over_the_context_budget_drops_its_oldest_exchanges_first(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(
        tool_calls(("ListSpans", {"trace_id": roaming})),
        tool_calls(("GetRootSpan", {"trace_id": roaming})),
        verdict_call("no"),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai),
                                    limits=AgentLimits(context_tokens=1_000))

    assert verdict.value == "no"
    last = scripted_openai.chat_requests[2].messages
    assert [m["role"] for m in last[:2]] == ["system", "user"]
    assert [t.split('"')[1] for t in tool_messages(last)] == ["GetRootSpan"]
    assert verdict.metadata["dropped_exchanges"] == 1
    assert verdict.metadata["limits"]["context_tokens"] == 1_000


async def test_an_unknown_trace_is_an_error_verdict_without_any_model_call(
    scripted_openai: ScriptedOpenAI, server: MCPServer
) -> None:
    verdict = await run_agent_judge(server, ROUTING, "ab" * 16, settings=on(scripted_openai))

    assert verdict.value is None and "not in this store" in (verdict.error or "")
    assert scripted_openai.chat_requests == []


async def test_no_model_configured_raises_saying_what_to_set_so_a_run_stops_at_once(
    server: MCPServer, roaming: str
) -> None:
    with pytest.raises(ModelNotConfigured, match="TRACEJUDGE_JUDGE_MODEL"):
        await run_agent_judge(server, ROUTING, roaming, settings=ModelSettings())


async def test_a_model_failing_for_good_after_the_judge_has_spent_is_an_error_verdict_with_the_spend(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    scripted_openai.push(
        tool_calls(("ListSpans", {"trace_id": roaming}), prompt_tokens=900, completion_tokens=20),
        error(401, "Incorrect API key provided", code="invalid_api_key", type="invalid_request_error"),
    )

    verdict = await run_agent_judge(server, ROUTING, roaming, settings=on(scripted_openai))

    assert verdict.value is None and "could not authenticate" in verdict.error
    assert (verdict.metadata["input_tokens"], verdict.metadata["output_tokens"]) == (900, 20)


async def test_trace_issues_is_an_agent_judge_with_the_trail_categories_in_its_prompt(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    assert TRACE_ISSUES.is_agent_judge
    assert "Tool Selection Errors" in TRAIL_CATEGORIES and len(TRAIL_CATEGORIES) == 20
    router = await router_span(server, roaming)
    scripted_openai.push(verdict_call("issues found", [
        {"span_id": router, "category": "Tool Selection Errors", "evidence": "product_specialist", "impact": "HIGH"}
    ]))

    verdict = await run_agent_judge(server, TRACE_ISSUES, roaming, settings=on(scripted_openai))

    assert verdict.value == "issues found" and verdict.findings[0].category == "Tool Selection Errors"
    system, task = scripted_openai.chat_requests[0].messages[:2]
    assert all(category in system["content"] for category in TRAIL_CATEGORIES)
    assert "{{" not in task["content"] and roaming in task["content"]
    schema = next(t for t in scripted_openai.chat_requests[0].json["tools"]
                  if t["function"]["name"] == VERDICT_TOOL)["function"]["parameters"]
    assert schema["properties"]["value"]["enum"] == ["issues found", "no issues"]
    assert json.dumps(schema)  # a plain JSON schema


async def test_instructions_whose_task_message_would_exceed_the_prompt_cap_give_an_error_and_no_model_call(
    scripted_openai: ScriptedOpenAI, server: MCPServer, roaming: str
) -> None:
    repeats = JudgeDefinition(name="repeats", instructions="{{trace}}" * 4_999)

    verdict = await run_agent_judge(server, repeats, roaming, settings=on(scripted_openai))

    assert verdict.value is None and "{{ trace }} 4,999 times" in verdict.error
    assert scripted_openai.chat_requests == []
