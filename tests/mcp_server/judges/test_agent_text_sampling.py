"""The agent judge through MCP sampling on clients whose sampling has no tool use (text actions),
on protocol 2026-07-28 (multi round-trip requests), and the estimated tokens of sampled calls
counting against Evaluate's budget. Real in-process MCP client with a scripted sampling callback,
over a store holding the Northwind demo traces."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters, types
from mcp.server.mcpserver import Context, MCPServer

from mcp_server.demo.load import load_demo
from mcp_server.judges.agent.judge import AgentLimits, run_agent_judge
from mcp_server.judges.agent.prompt import UNTRUSTED_TAG, VERDICT_TOOL
from mcp_server.judges.definition import JudgeDefinition, OutputType
from mcp_server.models import ModelSettings
from mcp_server.models.sampling import with_sampling
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database
from tests.support.northwind import MISROUTED
from tests.support.processes import TRACEJUDGE

ROUTING = JudgeDefinition(
    name="routing_accuracy",
    instructions="Was the customer's question in {{ trace }} routed to the specialist who can answer it?",
    output=OutputType(kind="categorical", categories=["yes", "no"]),
    model="sampling",
)
WITH_TOOLS = types.SamplingCapability(tools=types.SamplingToolsCapability())


class Script:
    """A sampling callback answering from a list of functions of the request; records requests."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.requests: list[types.CreateMessageRequestParams] = []

    async def __call__(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        self.requests.append(params)
        step = self.steps.pop(0)
        return step(params) if callable(step) else step


def text(body: str) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=body), model="client-model", stop_reason="endTurn"
    )


def tool_use(name: str, arguments: dict[str, Any], call_id: str) -> types.CreateMessageResultWithTools:
    return types.CreateMessageResultWithTools(
        role="assistant", model="client-model", stop_reason="toolUse",
        content=[types.ToolUseContent(type="tool_use", name=name, id=call_id, input=arguments)],
    )


def last_text(params: types.CreateMessageRequestParams) -> str:
    return "\n".join(b.text for b in params.messages[-1].content_as_list if b.type == "text")


async def router_span(server: MCPServer, trace_id: str) -> str:
    """The router's model call: the first chat span under the root."""
    async with Client(server) as client:
        spans = (await client.call_tool("ListSpans", {"trace_id": trace_id})).structured_content["spans"]
    root = next(s for s in spans if s["parent_span_id"] is None)
    return next(s["span_id"] for s in spans if s["parent_span_id"] == root["span_id"] and s["name"].startswith("chat"))


def investigation(trace_id: str, router: str, value: str = "no") -> list[Any]:
    """A model without tool calling: ListSpans, a malformed answer, GetSpan, then the verdict,
    each step checking what the previous one sent back."""

    def list_spans(params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        # The tools are written into the system prompt, with their input schemas; none go as tools.
        assert params.tools is None
        system = params.system_prompt or ""
        assert "### ListSpans" in system and "### GetSpan" in system and f"### {VERDICT_TOOL}" in system
        assert '"trace_id"' in system and "### LogFeedback" not in system and "### ListAssessments" not in system
        action = {"tool": "ListSpans", "arguments": {"trace_id": trace_id}}
        return text(f"I will read the span tree first.\n```json\n{json.dumps(action)}\n```")

    def ramble(params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        result = last_text(params)
        assert result.startswith("Result of your call to ListSpans") and f"<{UNTRUSTED_TAG}" in result
        assert router in result
        return text("The router looks suspicious; let me think about it.")

    def get_span(params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        assert "not a valid action" in last_text(params) and "no JSON object" in last_text(params)
        return text(json.dumps({"tool": "GetSpan", "arguments": {"trace_id": trace_id, "span_id": router}}))

    def verdict(params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        result = last_text(params)
        assert result.startswith("Result of your call to GetSpan") and "roaming" in result
        finding = {"span_id": router, "category": "Tool Selection Errors",
                   "evidence": "A roaming charge question was routed to technical support.",
                   "impact": "HIGH: the customer got no billing answer."}
        arguments = {"value": value, "rationale": "The router sent a billing question to tech support.",
                     "findings": [finding]}
        return text(f"Verdict:\n{json.dumps({'tool': VERDICT_TOOL, 'arguments': arguments})}\nDone.")

    return [list_spans, ramble, get_span, verdict]


@asynccontextmanager
async def connected(db: Database, server: MCPServer, script: Script, **options: Any) -> AsyncIterator[Client]:
    async with Client(server, sampling_callback=script, **options) as client:
        yield client


async def test_without_sampling_tool_use_the_agent_judge_investigates_with_text_actions(
    db: Database, server: MCPServer, roaming: str
) -> None:
    router = await router_span(server, roaming)
    script = Script(*investigation(roaming, router))
    async with connected(db, server, script, mode="legacy") as client:
        created = await client.call_tool("CreateJudge", {
            "name": "routing_accuracy", "instructions": ROUTING.instructions, "model": "sampling",
            "output_type": {"kind": "categorical", "categories": ["yes", "no"]},
        })
        assert not created.is_error
        ran = await client.call_tool("RunJudge", {"judge": "routing_accuracy", "trace_id": roaming})
        found = await client.call_tool("SearchTraces", {"filter_string": "feedback.routing_accuracy = 'no'"})

    verdict = ran.structured_content["verdict"]
    assert (verdict["error"], verdict["value"]) == (None, "no")
    [finding] = verdict["findings"]
    assert (finding["span_id"], finding["category"]) == (router, "Tool Selection Errors")
    meta = verdict["metadata"]
    assert meta["tool_protocol"] == "text" and meta["malformed_actions"] == 1
    assert meta["tool_calls_by_tool"] == {"ListSpans": 1, "GetSpan": 1} and meta["iterations"] == 4
    # Sampled calls report no usage: estimated tokens, said so, and no cost here.
    assert meta["tokens_estimated"] is True and meta["input_tokens"] > 1_000 and meta["output_tokens"] > 0
    assert meta["cost_usd"] == 0 and any("client pays" in w for w in meta["warnings"])
    assert [t["trace_id"] for t in found.structured_content["traces"]] == [roaming]
    assert script.steps == [] and all(r.tools is None for r in script.requests)


async def test_malformed_actions_use_up_the_iterations_and_the_verdict_is_then_asked_for_without_tools(
    db: Database, server: MCPServer, roaming: str
) -> None:
    judge = ROUTING.model_copy(update={"instructions": "Judge {{ trace }}."})
    final = {"value": "yes", "rationale": "Nothing looked wrong.", "findings": []}
    script = Script(text("hmm"), text('{"tool": 42}'), text(f"```json\n{json.dumps(final)}\n```"))
    verdicts: list[Any] = []
    tool_server = create_server(Settings(), db)

    @tool_server.tool()
    async def judge_here(ctx: Context) -> str | types.InputRequiredResult:
        async def body(sampler: Any) -> str:
            verdicts.append(await run_agent_judge(
                tool_server, judge, roaming, settings=ModelSettings(), limits=AgentLimits(max_iterations=2), sampler=sampler
            ))
            return "judged"
        return await with_sampling(ctx, body)

    async with connected(db, tool_server, script, mode="legacy") as client:
        assert not (await client.call_tool("judge_here", {})).is_error
    [verdict] = verdicts
    assert (verdict.error, verdict.value) == (None, "yes")
    assert verdict.metadata["malformed_actions"] == 2 and verdict.metadata["limit_hit"] == "max_iterations"
    # Each malformed answer went back with what was wrong; then the limit asked for the verdict.
    assert "not a valid action: the answer holds no JSON object" in last_text(script.requests[1])
    third = script.requests[2].messages
    assert "\"tool\" must be a tool's name, got 42" in "".join(b.text for b in third[-2].content_as_list)
    assert "Stop investigating" in last_text(script.requests[2])


@pytest.mark.parametrize("capabilities", [None, WITH_TOOLS], ids=["text actions", "tool use"])
async def test_on_protocol_2026_the_agent_judge_samples_through_multi_round_trip_requests(
    db: Database, server: MCPServer, roaming: str, capabilities: types.SamplingCapability | None
) -> None:
    router = await router_span(server, roaming)
    if capabilities is None:
        steps = investigation(roaming, router)
    else:
        finding = {"span_id": router, "category": "Tool Selection Errors", "evidence": "routed to tech support",
                   "impact": "HIGH"}
        steps = [
            tool_use("ListSpans", {"trace_id": roaming}, "c1"),
            tool_use("GetSpan", {"trace_id": roaming, "span_id": router}, "c2"),
            tool_use(VERDICT_TOOL, {"value": "no", "rationale": "misrouted", "findings": [finding]}, "c3"),
        ]
    script = Script(*steps)
    rounds: list[str | None] = []
    verdicts: list[Any] = []

    @server.tool()
    async def judge_here(ctx: Context) -> str | types.InputRequiredResult:
        rounds.append(ctx.protocol_version)

        async def body(sampler: Any) -> str:
            verdict = await run_agent_judge(server, ROUTING, roaming, settings=ModelSettings(), sampler=sampler)
            verdicts.append(verdict)
            return verdict.value

        return await with_sampling(ctx, body)

    async with connected(db, server, script, sampling_capabilities=capabilities, input_required_max_rounds=20) as client:
        result = await client.call_tool("judge_here", {})

    assert not result.is_error and result.structured_content == {"result": "no"}
    # One round per model call plus the last; each request reached the client once.
    assert rounds == ["2026-07-28"] * (len(steps) + 1) and len(script.requests) == len(steps)
    verdict = verdicts[-1]
    assert [f.span_id for f in verdict.findings] == [router]
    assert verdict.metadata["tool_calls_by_tool"] == {"ListSpans": 1, "GetSpan": 1}
    assert verdict.metadata["tool_protocol"] == ("text" if capabilities is None else "native")


async def test_estimated_sampling_tokens_stop_evaluate_at_its_token_budget(
    db: Database, server: MCPServer
) -> None:
    answer = text(json.dumps({"rationale": "Answered.", "value": "yes"}))
    script = Script(*[answer] * 20)
    async with connected(db, server, script, mode="legacy") as client:
        ran = await client.call_tool("Evaluate", {
            "judges": ["relevance_to_query"], "filter_string": None, "max_concurrency": 1, "max_tokens": 3_000,
        })
    run = ran.structured_content
    assert not ran.is_error and run["status"] == "stopped" and "token budget reached" in run["stop_reason"]
    # Every sampled judgment reserves and counts its estimated tokens; the run stops long before
    # the traces end, at the call that would no longer fit.
    assert 0 < run["total_tokens"] <= 3_000 and run["cost_usd"] == 0
    assert 1 <= len(script.requests) < 20 and run["pairs_done"] == len(script.requests)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["legacy", "auto"])  # the handshake protocol, and 2026-07-28
async def test_over_stdio_the_tracejudge_command_judges_with_the_clients_sampling(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "demo.db"
    db = Database(path)
    load_demo(db)
    trace_id = db.reader().execute(
        "SELECT trace_id FROM traces WHERE request_preview LIKE ?", (f"%{MISROUTED}%",)
    ).fetchone()["trace_id"]
    router = await router_span(create_server(Settings(), db), trace_id)
    db.close()
    script = Script(*investigation(trace_id, router, value="issues found"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}  # no judge model configured
    params = StdioServerParameters(command=TRACEJUDGE, args=["stdio", "--db", str(path)], env=env)
    async with Client(params, mode=mode, sampling_callback=script, input_required_max_rounds=20) as client:
        ran = await client.call_tool("RunJudge", {"judge": "trace_issues", "trace_id": trace_id})

    verdict = ran.structured_content["verdict"]
    assert verdict["error"] is None, verdict["error"]
    assert [f["span_id"] for f in verdict["findings"]] == [router]
    assert verdict["metadata"]["tool_protocol"] == "text" and len(script.requests) == 4
