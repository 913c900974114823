"""Toolsets and --read-only through the real `tracejudge` command and the MCP client: what a
client lists is what it asked for, in the table's order, and a tool left out cannot be called;
the names, descriptions and input schemas stay within the size a client's context can afford."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx2
import jsonschema
import pytest
from mcp import Client, MCPError, StdioServerParameters

from bench.tool_surface import context_chars
from mcp_server.tooling.toolsets import TOOL_ORDER, TOOLSET_NAMES, TOOLSET_OF, TOOLSETS
from store import Database
from tests.support.mcp_session import session
from tests.support.processes import TRACEJUDGE, serve

CONTEXT_LIMIT = 32_000
"""The tools of the toolsets issue 9 measured (traces ... optimization): 31,487 characters then."""
LATER_TOOLSET_LIMIT = 3_500
"""Each toolset added since (monitors ...): a client that loads all tools pays for it, so it keeps
its descriptions to a few words, as those did."""
ISSUE_9_TOOLSETS = ("traces", "feedback", "judges", "evaluation", "datasets", "prompts", "labeling", "optimization")
TRACE_TOOLS_LIMIT = 8_000
WRITING_TOOLS = {"LogFeedback", "RunJudge", "Evaluate", "CreateDataset", "SubmitLabel", "OptimizePrompt", "AlignJudge"}


def _stdio(db: Path, *args: str) -> Client:
    # The SDK passes a server only a few variables of its own; PYTHONPATH (this checkout) is kept.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    return Client(StdioServerParameters(command=TRACEJUDGE, args=["stdio", "--db", str(db), *args], env=env))


@pytest.mark.slow
async def test_stdio_with_toolsets_traces_lists_only_the_trace_tools_in_order(demo_db: Path) -> None:
    async with _stdio(demo_db, "--toolsets", "traces") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == list(TOOLSETS["traces"][1])
        refused = await client.call_tool("LogFeedback", {"trace_id": "0" * 32, "name": "x", "value": 1})
        assert refused.is_error and "LogFeedback" in refused.content[0].text


@pytest.mark.slow
async def test_http_read_only_lists_no_writing_tool_and_refuses_a_call_to_one(tmp_path: Path) -> None:
    with serve(tmp_path / "fresh.db", "--demo", "--read-only", "--toolsets", "traces,feedback,judges") as url:
        async with Client(f"{url}/mcp") as client:
            tools = (await client.list_tools()).tools
            names = [tool.name for tool in tools]
            assert all(tool.annotations.read_only_hint is True for tool in tools)
            assert not WRITING_TOOLS & set(names)
            assert names == [name for name in TOOL_ORDER if name in names]  # the table's order
            assert {"SearchTraces", "ListAssessments", "ListJudges"} <= set(names)
            refused = await client.call_tool("RunJudge", {"judge": "latency", "trace_id": "0" * 32})
            assert refused.is_error and "Unknown tool" in refused.content[0].text


@pytest.mark.slow
async def test_an_http_client_asks_for_toolsets_in_its_url(tmp_path: Path) -> None:
    """/mcp/<toolsets> is what a client's configuration can give instead of the server's options:
    tools/list and tools/call answer as if the server had been started with those toolsets, on the
    same server that answers /mcp with all of them; in both protocols (handshake and per-request)."""
    with serve(tmp_path / "fresh.db", "--demo") as url:
        for mode in ("legacy", "auto"):
            async with Client(f"{url}/mcp/traces", mode=mode) as client:
                assert [tool.name for tool in (await client.list_tools()).tools] == list(TOOLSETS["traces"][1])
                found = await client.call_tool("SearchTraces", {"max_results": 1})
                assert not found.is_error
                with pytest.raises(MCPError, match=r"'LogFeedback' is not served at /mcp/traces.*\(feedback\)"):
                    await client.call_tool("LogFeedback", {"trace_id": "0" * 32, "name": "x", "value": 1})
            async with Client(f"{url}/mcp/judges,traces", mode=mode) as client:
                names = [tool.name for tool in (await client.list_tools()).tools]
                assert names == [name for name in TOOL_ORDER if name in TOOLSETS["traces"][1] + TOOLSETS["judges"][1]]
        async with Client(f"{url}/mcp") as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == list(TOOL_ORDER)


@pytest.mark.slow
def test_a_url_toolset_the_server_does_not_serve_is_refused_before_a_session_opens(tmp_path: Path) -> None:
    initialize = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }  # fmt: skip
    headers = {"Accept": "application/json, text/event-stream"}
    with serve(tmp_path / "fresh.db", "--read-only", "--toolsets", "traces,feedback") as url:
        unknown = httpx2.post(f"{url}/mcp/traces,bogus", json=initialize, headers=headers)
        assert unknown.status_code == 404 and "mcp-session-id" not in unknown.headers
        message = unknown.json()["error"]["message"]
        assert "unknown toolset 'bogus'" in message and ",".join(TOOLSET_NAMES) in message
        not_served = httpx2.post(f"{url}/mcp/traces,judges", json=initialize, headers=headers)
        assert not_served.status_code == 404
        assert "does not serve the toolset 'judges'" in not_served.json()["error"]["message"]
        assert "--toolsets traces,feedback" in not_served.json()["error"]["message"]
        served = httpx2.post(f"{url}/mcp/feedback", json=initialize, headers=headers)
        assert served.status_code == 200 and served.headers["mcp-session-id"]


@pytest.mark.slow
async def test_a_url_toolset_keeps_the_operators_read_only(tmp_path: Path) -> None:
    with serve(tmp_path / "fresh.db", "--read-only", "--toolsets", "traces,feedback") as url:
        async with Client(f"{url}/mcp/feedback") as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == ["ListAssessments", "GetAssessment"]


@pytest.mark.slow
def test_an_unknown_toolset_is_refused_with_the_valid_names(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    done = subprocess.run(
        [TRACEJUDGE, "stdio", "--db", str(tmp_path / "x.db"), "--toolsets", "traces,trace"],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown toolset 'trace'" in done.stderr
    assert ",".join(TOOLSET_NAMES) in done.stderr


@pytest.mark.slow
def test_tracejudge_toolsets_from_the_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    env["TRACEJUDGE_TOOLSETS"] = "bogus"
    done = subprocess.run(
        [TRACEJUDGE, "stdio", "--db", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "unknown toolset 'bogus'" in done.stderr


async def test_every_tool_has_a_toolset_and_all_are_listed_in_the_table_order(tmp_path: Path) -> None:
    async with session(Database(tmp_path / "t.db")) as s:
        names = [tool.name for tool in (await s.client.list_tools()).tools]
    assert names == list(TOOL_ORDER)


async def test_trace_tools_fit_their_context_size(tmp_path: Path) -> None:
    async with session(Database(tmp_path / "t.db")) as s:
        listed = (await s.client.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)
    trace = [t for t in listed["tools"] if t["name"] in TOOLSETS["traces"][1]]
    assert sum(map(context_chars, trace)) <= TRACE_TOOLS_LIMIT


async def test_all_tools_fit_their_context_size(tmp_path: Path) -> None:
    async with session(Database(tmp_path / "t.db")) as s:
        listed = (await s.client.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)
    by_toolset: dict[str, int] = {}
    for tool in listed["tools"]:
        toolset = TOOLSET_OF[tool["name"]]
        by_toolset[toolset] = by_toolset.get(toolset, 0) + context_chars(tool)
    assert sum(by_toolset[name] for name in ISSUE_9_TOOLSETS) <= CONTEXT_LIMIT
    later = {name: chars for name, chars in by_toolset.items() if name not in ISSUE_9_TOOLSETS}
    assert later and all(chars <= LATER_TOOLSET_LIMIT for chars in later.values()), later


async def test_compacted_input_schemas_are_valid_resolve_every_ref_and_still_refuse_unknown_arguments(
    tmp_path: Path,
) -> None:
    async with session(Database(tmp_path / "t.db")) as s:
        listed = (await s.client.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)
    for tool in listed["tools"]:
        schema = tool["inputSchema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False, tool["name"]
        for ref in set(re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))):
            assert ref in schema.get("$defs", {}), (tool["name"], ref)
    log_feedback = next(t["inputSchema"] for t in listed["tools"] if t["name"] == "LogFeedback")
    check = jsonschema.Draft202012Validator(log_feedback)
    trace = {"trace_id": "ab" * 16, "name": "correctness"}
    assert all(check.is_valid({**trace, "value": value}) for value in (True, 1, 0.5, "yes", ["a"], {"a": 1}))
    assert not check.is_valid({**trace, "value": None})
    finding = {"span_id": "cd" * 8, "category": "x", "evidence": "y"}
    assert check.is_valid({**trace, "value": "no", "findings": [finding]})
    assert not check.is_valid({**trace, "value": "no", "findings": [{**finding, "bogus": 1}]})
