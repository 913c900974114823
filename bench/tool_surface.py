"""What the MCP tool list costs a client's context: characters (and estimated tokens) of tools/list
per toolset and in all, and of the tool offer the agent judge sends its model.

    .venv/bin/python -m bench.tool_surface

A real MCP client (`mcp.Client`, in process) on create_server's server over the demo store calls
tools/list. Per toolset (mcp_server.tooling.toolsets) and in total it prints the characters of what a
client puts into its model's context on every turn (each tool's name, description and input
schema, as JSON), of the output schemas, and of the whole tools/list answer as JSON; tokens are
mcp_server.models.token_estimate's estimate (4 characters a token), the project's one rule.

The agent judge's offer is the `tools` array of its first chat completion request, as the
scripted OpenAI-compatible server (tests/support/scripted_openai.py) received it through
litellm's real HTTP code: the built-in `trace_issues` judge runs on a demo trace through
run_judge and the scripted model gives its verdict at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_server.demo.load import load_demo
from mcp_server.judges.agent.prompt import VERDICT_TOOL
from mcp_server.judges.runner import run_judge
from mcp_server.models import ModelSettings
from mcp_server.models.token_estimate import tokens_in_chars
from mcp_server.server import create_server, investigation_server
from mcp_server.settings import Settings
from mcp_server.tooling.toolsets import TOOLSET_OF, TOOLSETS
from mcp_server.traces.search import search_traces
from store import Database
from tests.support.scripted_openai import scripted_openai_server, tool_calls


def _chars(value: Any) -> int:
    # Compact JSON, as tools/list carries it on the wire (and as issue 9 measured it).
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


async def listed_tools(db: Database) -> tuple[list[dict[str, Any]], int]:
    """Each tool as tools/list sends it (JSON, by alias), and the characters of the whole answer."""
    async with Client(create_server(Settings(db_path=db.path), db)) as client:
        listed = await client.list_tools()
    answer = listed.model_dump(mode="json", by_alias=True, exclude_none=True)
    return answer["tools"], _chars(answer)


def context_chars(tool: dict[str, Any]) -> int:
    """The characters a client puts in its model's context for `tool` (as tools/list sends it, by
    alias): its name, description and input schema as compact JSON. The measure the toolset tests
    hold the tools to (tests/mcp_server/tooling/test_toolsets.py) and this benchmark prints."""
    return _chars({"name": tool["name"], "description": tool.get("description", ""),
                   "inputSchema": tool["inputSchema"]})  # fmt: skip


def judge_offer(db: Database) -> list[dict[str, Any]]:
    """The tools array of the agent judge's first model request."""
    trace_id = search_traces(db, max_results=1).traces[0].trace_id
    with scripted_openai_server() as model:
        model.push(tool_calls((VERDICT_TOOL, {"value": "no issues", "rationale": "scripted", "findings": []})))
        settings = Settings(
            db_path=db.path,
            models=ModelSettings(judge_model="openai/scripted-model", api_base=model.url, api_key="sk-scripted",
                                 max_attempts=1, timeout_s=30),
        )  # fmt: skip
        verdict = asyncio.run(run_judge(db, "trace_issues", trace_id, settings=settings,
                                        server=investigation_server(settings, db)))
        requests = model.chat_requests
    if verdict.error or not requests:
        raise SystemExit(f"the judgment failed: {verdict.error or 'no model request'}")
    return requests[0].json["tools"]


def _row(label: str, count: int, context: int, output: int, whole: int | None) -> str:
    whole_text = f"{whole:>9,}" if whole is not None else f"{'':>9}"
    return (f"{label:<14} {count:>5} {context:>9,} {tokens_in_chars(context):>7,} {output:>9,} {whole_text}")


def main() -> None:
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "demo.db")
        load_demo(db)
        tools, whole = asyncio.run(listed_tools(db))
        offer = judge_offer(db)
        db.close()
    print(f"{'toolset':<14} {'tools':>5} {'context':>9} {'~tokens':>7} {'outputs':>9} {'tools/list':>9}")
    print("  context: characters of names, descriptions and input schemas (JSON); outputs: of output schemas")
    for toolset in TOOLSETS:
        mine = [t for t in tools if TOOLSET_OF[t["name"]] == toolset]
        print(_row(toolset, len(mine), sum(map(context_chars, mine)),
                   sum(_chars(t.get("outputSchema")) for t in mine if "outputSchema" in t),
                   _chars({"tools": mine})))  # fmt: skip
    print(_row("all", len(tools), sum(map(context_chars, tools)),
               sum(_chars(t.get("outputSchema")) for t in tools if "outputSchema" in t), whole))  # fmt: skip
    offered = [spec["function"]["name"] for spec in offer]
    chars = _chars(offer)
    print(f"agent judge's tool offer (the request's tools array): {len(offer)} tools, {chars:,} characters, "
          f"~{tokens_in_chars(chars):,} tokens: {', '.join(offered)}")


if __name__ == "__main__":
    main()
