"""The server an agent judge investigates through is given by its caller and made once per run:
from the CLI (`evaluate`, `judge run`) one traces-only server serves every judgment of the command,
and none is made when no agent judge runs; from MCP, the server the tool was called on serves, or,
where the operator left the 'traces' toolset out, one traces-only server made on first use.

investigation_server is wrapped (not replaced) to count how often a server is built."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

import mcp_server.server
from mcp_server.cli import main
from mcp_server.demo.load import load_demo
from mcp_server.judges.agent.prompt import VERDICT_TOOL
from mcp_server.judges.runner import run_judge
from mcp_server.models import ModelSettings
from mcp_server.server import create_server
from mcp_server.settings import Settings
from mcp_server.traces.search import search_traces
from store import Database
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, tool_calls

__all__ = ["scripted_openai"]

RUN_ID = re.compile(r"\brun-[0-9a-f]{32}\b")
INSTRUCTIONS = "Did the agent answer the customer? Look into {{ trace }}."
TRACE_TOOLS = {"GetTraceInfo", "ListSpans", "GetSpan", "GetRootSpan", "SearchTraceRegex", "GetSpanTimingReport"}


@pytest.fixture
def servers_built(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The tool names of every investigation server built from now on (the real function runs)."""
    built: list[set[str]] = []
    real: Callable[..., Any] = mcp_server.server.investigation_server

    def counting(settings: Settings, db: Database) -> Any:
        server = real(settings, db)
        built.append({tool.name for tool in server._tool_manager.list_tools()})
        return server

    monkeypatch.setattr(mcp_server.server, "investigation_server", counting)
    return built


@pytest.fixture
def demo_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "judge-server.db"
    assert main(["demo", "--db", str(path)]) == 0
    capsys.readouterr()
    return str(path)


def _answer_every_judgment(model: ScriptedOpenAI) -> None:
    # Each judgment first reads its trace through a trace tool, then gives its verdict.
    def respond(body: dict[str, Any]) -> Any:
        messages = body["messages"]
        if not any(m["role"] == "tool" for m in messages):
            trace_id = re.search(r"\b[0-9a-f]{32}\b", str(messages)).group(0)
            return tool_calls(("GetTraceInfo", {"trace_id": trace_id}))
        return tool_calls((VERDICT_TOOL, {"value": True, "rationale": "answered", "findings": []}))

    model.respond_with(respond)


def _use_model(monkeypatch: pytest.MonkeyPatch, model: ScriptedOpenAI) -> None:
    monkeypatch.setenv("TRACEJUDGE_JUDGE_MODEL", "openai:/gpt-4o-mini")
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_BASE", model.url)
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_KEY", "sk-scripted")


def test_evaluate_from_the_cli_serves_every_agent_judgment_from_one_server(
    demo_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    scripted_openai: ScriptedOpenAI, servers_built: list[set[str]],
) -> None:
    _use_model(monkeypatch, scripted_openai)
    _answer_every_judgment(scripted_openai)
    assert main(["judge", "create", "answered", "--instructions", INSTRUCTIONS, "--db", demo_db]) == 0
    capsys.readouterr()

    assert main(["evaluate", "answered", "--max-concurrency", "4", "--db", demo_db]) == 0
    out = " ".join(capsys.readouterr().out.split())

    assert "10/10 judged, 0 errors" in out
    assert len(servers_built) == 1
    assert servers_built[0] == TRACE_TOOLS | {"SearchTraces", "CountTraces"}  # the read-only trace tools alone
    # every judgment investigated: its first request offered the trace tools, its second carried a tool's answer
    offered = [{t["function"]["name"] for t in r.json["tools"]} for r in scripted_openai.chat_requests]
    assert len(offered) == 20 and all(TRACE_TOOLS <= names for names in offered)


def test_commands_that_run_no_agent_judge_build_no_server(
    demo_db: str, capsys: pytest.CaptureFixture[str], servers_built: list[set[str]]
) -> None:
    assert main(["evaluate", "error_spans", "latency", "--db", demo_db]) == 0
    assert main(["traces", "--db", demo_db]) == 0
    (trace_id, *_) = set(re.findall(r"\b[0-9a-f]{32}\b", capsys.readouterr().out))
    main(["judge", "run", "error_spans", trace_id, "--db", demo_db])
    assert servers_built == []


async def test_an_mcp_server_without_the_trace_toolset_gives_its_agent_judges_one_traces_only_server(
    db: Database, scripted_openai: ScriptedOpenAI, servers_built: list[set[str]]
) -> None:
    load_demo(db)
    _answer_every_judgment(scripted_openai)
    models = ModelSettings(judge_model="openai/scripted-model", api_base=scripted_openai.url, api_key="sk-scripted",
                           max_attempts=1)  # fmt: skip
    server = create_server(Settings(db_path=db.path, models=models, toolsets=["judges", "evaluation"]), db)
    async with Client(server) as client:
        assert not {t.name for t in (await client.list_tools()).tools} & TRACE_TOOLS
        await client.call_tool("CreateJudge", {"name": "answered", "instructions": INSTRUCTIONS})
        trace_ids = [t.trace_id for t in search_traces(db, max_results=3).traces]
        run = await client.call_tool("Evaluate", {"judges": ["answered"], "trace_ids": trace_ids})
        again = await client.call_tool("RunJudge", {"judge": "answered", "trace_id": trace_ids[0]})

    assert not run.is_error and not again.is_error, (run.content, again.content)
    assert run.structured_content["pairs_done"] == 3 and run.structured_content["errors"] == 0
    assert len(servers_built) == 1


async def test_an_mcp_server_with_the_trace_toolset_serves_its_agent_judges_itself(
    db: Database, scripted_openai: ScriptedOpenAI, servers_built: list[set[str]]
) -> None:
    load_demo(db)
    _answer_every_judgment(scripted_openai)
    models = ModelSettings(judge_model="openai/scripted-model", api_base=scripted_openai.url, api_key="sk-scripted",
                           max_attempts=1)  # fmt: skip
    async with Client(create_server(Settings(db_path=db.path, models=models), db)) as client:
        await client.call_tool("CreateJudge", {"name": "answered", "instructions": INSTRUCTIONS})
        trace_id = search_traces(db, max_results=1).traces[0].trace_id
        result = await client.call_tool("RunJudge", {"judge": "answered", "trace_id": trace_id})
    assert not result.is_error, result.content
    assert servers_built == []


async def test_an_agent_judge_run_without_a_server_says_what_it_needs(db: Database) -> None:
    load_demo(db)
    trace_id = search_traces(db, max_results=1).traces[0].trace_id
    with pytest.raises(ValueError, match="investigates through an MCP server: pass server="):
        await run_judge(db, "trace_issues", trace_id, settings=Settings(db_path=db.path))
