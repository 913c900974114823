"""RunJudge with an agent judge, from an MCP client: the judge opens its own in-process session
on the same server while the client's tool call is in flight, investigates, and its verdict
lands as feedback that SearchTraces sees."""

from __future__ import annotations

from mcp import Client

from mcp_server.demo.load import load_demo
from mcp_server.judges import service
from mcp_server.judges.agent.prompt import VERDICT_TOOL
from mcp_server.models import ModelSettings
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, tool_calls

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

__all__ = ["scripted_openai"]

MISROUTED = "Why was I charged for roaming in Spain?"


async def test_run_judge_tool_runs_the_trace_issues_agent_through_the_same_server(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    load_demo(db)
    trace_id = db.reader().execute(
        "SELECT trace_id FROM traces WHERE request_preview LIKE ?", (f"%{MISROUTED}%",)
    ).fetchone()["trace_id"]
    settings = Settings(
        db_path=db.path,
        models=ModelSettings(
            judge_model="openai/scripted-model", api_base=scripted_openai.url, api_key="sk-scripted", max_attempts=1
        ),
    )
    server = create_server(settings, db)
    async with Client(server) as client:
        spans = (await client.call_tool("ListSpans", {"trace_id": trace_id})).structured_content["spans"]
        tool_span = next(s for s in spans if s["name"].startswith("invoke_agent product"))
        scripted_openai.push(tool_calls(("SearchTraceRegex", {"trace_id": trace_id, "pattern": "roaming"})))
        finding = {
            "span_id": tool_span["span_id"],
            "category": "Tool Selection Errors",
            "evidence": "the billing question went to the product specialist",
            "impact": "HIGH",
        }
        scripted_openai.push(
            tool_calls((VERDICT_TOOL, {"value": "issues found", "rationale": "misrouted", "findings": [finding]}))
        )

        result = await client.call_tool("RunJudge", {"judge": "trace_issues", "trace_id": trace_id})
        assert not result.is_error, result.content
        verdict = result.structured_content
        found = await client.call_tool("SearchTraces", {"filter_string": "feedback.trace_issues = 'issues found'"})

    # The judge's second request carries the real search result from this server's tool.
    second = scripted_openai.chat_requests[1].json["messages"]
    assert any(m["role"] == "tool" and MISROUTED.split()[0] in str(m["content"]) for m in second)
    assert "issues found" in str(verdict)
    assert [t["trace_id"] for t in found.structured_content["traces"]] == [trace_id]


async def test_run_judge_within_max_tokens_stops_an_agent_judge_that_never_settles_and_logs_nothing(
    db: Database, settings: Settings, roaming: str, scripted_openai: ScriptedOpenAI
) -> None:
    service.create_judge(db, "digger", "Look into {{ trace }} until you are sure.", models=OPERATOR)
    scripted_openai.respond_with(
        lambda request: tool_calls(("ListSpans", {"trace_id": roaming}), prompt_tokens=3_000, completion_tokens=50)
    )
    async with Client(create_server(settings, db)) as client:
        result = await client.call_tool("RunJudge", {"judge": "digger", "trace_id": roaming, "max_tokens": 10_000})
        assert not result.is_error, result.content
        logged = await client.call_tool("SearchTraces", {"filter_string": "feedback.digger IS NOT NULL"})

    answer = result.structured_content
    calls = len(scripted_openai.chat_requests)
    assert 1 < calls < 30  # stopped by the budget, far before max_iterations
    assert answer["budget"]["spent_tokens"] == calls * 3_050 == answer["verdict"]["metadata"]["input_tokens"] + \
        answer["verdict"]["metadata"]["output_tokens"]
    assert answer["budget"]["stopped"].startswith("token budget reached") and "max_tokens=10,000" in answer["budget"]["stopped"]
    assert "stopped before its verdict" in answer["verdict"]["error"] and answer["verdict"]["assessment_id"] is None
    assert logged.structured_content["traces"] == []


async def test_run_judge_with_a_budget_too_small_for_one_call_sends_nothing_and_says_what_to_raise(
    db: Database, settings: Settings, roaming: str, scripted_openai: ScriptedOpenAI
) -> None:
    async with Client(create_server(settings, db)) as client:
        result = await client.call_tool("RunJudge", {"judge": "trace_issues", "trace_id": roaming, "max_tokens": 50})
        refused = await client.call_tool("RunJudge", {"judge": "trace_issues", "trace_id": roaming, "max_cost_usd": -1})

    assert result.is_error and "token budget reached" in result.content[0].text
    assert "Raise max_tokens or max_cost_usd" in result.content[0].text
    assert refused.is_error and "max_cost_usd must be a positive number" in refused.content[0].text
    assert scripted_openai.chat_requests == []
