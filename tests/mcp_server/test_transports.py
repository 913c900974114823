"""The same tools over every transport a client uses: stdio and streamable HTTP from the real
`tracejudge` command, driven by the Python MCP client and by a third-party client (the MCP
Inspector CLI)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.npm_tools import npm_program
from tests.support.processes import TRACEJUDGE, serve

INSPECTOR_VERSION = "2.12.0"
TRACE_TOOLS = {
    "GetTraceInfo", "ListSpans", "GetSpan", "GetRootSpan", "SearchTraceRegex",
    "GetSpanTimingReport", "SearchTraces", "CountTraces",
}  # fmt: skip

pytestmark = pytest.mark.slow


async def _walk_first_trace(client: Client) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert TRACE_TOOLS <= tools
    found = await client.call_tool("SearchTraces", {"max_results": 5})
    assert not found.is_error, found.content
    traces = found.structured_content["traces"]
    assert traces
    trace_id = traces[0]["trace_id"]
    info = await client.call_tool("GetTraceInfo", {"trace_id": trace_id})
    assert not info.is_error and info.structured_content["trace_id"] == trace_id
    spans = await client.call_tool("ListSpans", {"trace_id": trace_id})
    assert not spans.is_error and spans.structured_content["spans"]
    missing = await client.call_tool("GetTraceInfo", {"trace_id": "0" * 32})
    assert missing.is_error
    assert "SearchTraces" in missing.content[0].text


async def test_stdio_transport_from_the_installed_command(demo_db: Path) -> None:
    params = StdioServerParameters(command=TRACEJUDGE, args=["stdio", "--db", str(demo_db)])
    async with Client(params) as client:
        await _walk_first_trace(client)


async def test_stdio_says_on_stderr_which_store_it_opened_and_whether_a_judge_model_is_set(
    demo_db: Path, tmp_path: Path
) -> None:
    # A client that passes the server no environment (Codex keeps only HOME, PATH and a few more)
    # makes it open the default store with no model: the first stderr line, in the client's MCP
    # log, shows which store and model it got.
    log = tmp_path / "stderr.log"
    configured = {"TRACEJUDGE_DB": str(demo_db), "TRACEJUDGE_JUDGE_MODEL": "openai/gpt-4o-mini"}
    empty = {"TRACEJUDGE_DB": str(tmp_path / "not-yet.db")}
    lines = []
    for env in (configured, empty):
        params = StdioServerParameters(command=TRACEJUDGE, args=["stdio", "--toolsets", "traces"], env=env)
        with log.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                assert {tool.name for tool in (await client.list_tools()).tools} == TRACE_TOOLS
        lines.append(log.read_text().splitlines()[0])
    assert lines[0] == f"tracejudge: 10 traces in {demo_db}; judge model openai/gpt-4o-mini; toolsets traces"
    new_store = f"tracejudge: a new, empty store at {tmp_path / 'not-yet.db'}; no judge model (set TRACEJUDGE_JUDGE_MODEL"
    assert lines[1].startswith(new_store)


async def test_streamable_http_from_tracejudge_serve_with_demo_data(tmp_path: Path) -> None:
    with serve(tmp_path / "fresh.db", "--demo") as url:
        async with Client(f"{url}/mcp") as client:
            await _walk_first_trace(client)


@pytest.fixture(scope="session")
def inspector() -> list[str]:
    """The MCP Inspector CLI."""
    return [str(npm_program("@modelcontextprotocol/inspector", INSPECTOR_VERSION, "mcp-inspector")), "--cli"]


def _inspect(command: list[str]) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_mcp_inspector_lists_and_calls_tools_over_stdio(inspector: list[str], demo_db: Path) -> None:
    server = [TRACEJUDGE, "stdio", "--db", str(demo_db)]
    listed = _inspect([*inspector, *server, "--method", "tools/list"])
    assert TRACE_TOOLS <= {tool["name"] for tool in listed["tools"]}
    called = _inspect([*inspector, *server, "--method", "tools/call", "--tool-name", "CountTraces"])
    assert not called.get("isError")
    assert called["structuredContent"]["count"] > 0


def test_mcp_inspector_lists_and_calls_tools_over_http(inspector: list[str], demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    with serve(db) as url:
        target = [*inspector, f"{url}/mcp", "--transport", "http"]
        listed = _inspect([*target, "--method", "tools/list"])
        assert TRACE_TOOLS <= {tool["name"] for tool in listed["tools"]}
        found = _inspect([*target, "--method", "tools/call", "--tool-name", "SearchTraces", "--tool-arg", "max_results=2"])
        trace_id = found["structuredContent"]["traces"][0]["trace_id"]
        info = _inspect([*target, "--method", "tools/call", "--tool-name", "GetTraceInfo", "--tool-arg", f"trace_id={trace_id}"])
        assert info["structuredContent"]["trace_id"] == trace_id
