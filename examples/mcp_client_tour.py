"""A tour of tracejudge's trace tools with the Python MCP client: find the misrouted trace.

    tracejudge serve --demo                          # terminal 1 (or run telecom_support/run.py)
    python examples/mcp_client_tour.py               # terminal 2, over streamable HTTP
    python examples/mcp_client_tour.py --stdio --db ~/.tracejudge/tracejudge.db   # or over stdio

A customer of the demo's support agent asked "Why was I charged for roaming in Spain?". The tour
looks for that conversation the way a judge would: SearchTraces for the question, GetTraceInfo
for the summary, ListSpans for what the agent did, SearchTraceRegex for every mention of
roaming, and GetSpan on the router's model call, whose system prompt holds the bug: roaming is a
product keyword, checked before the billing keywords.

Exits 1 when a tool call fails or the misrouted trace is not there (STYLE rule 13: examples
check themselves).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

DEFAULT_URL = "http://127.0.0.1:8080/mcp"
QUESTION_FILTER = "trace.text ILIKE '%charged for roaming%'"
TOOLS_USED = ("SearchTraces", "GetTraceInfo", "ListSpans", "SearchTraceRegex", "GetSpan")


class TourFailed(Exception):
    """A step of the tour did not give what it should; the message says which and why."""


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    """Call a tool and return its structured answer; a tool error ends the tour."""
    result = await client.call_tool(tool, arguments)
    text = " ".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        raise TourFailed(f"{tool}({arguments}) answered with an error: {text}")
    if result.structured_content is not None:
        return result.structured_content
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def dicts_with(value: Any, key: str) -> Iterator[dict[str, Any]]:
    """Every mapping inside `value` (at any depth) that has `key`."""
    if isinstance(value, dict):
        if key in value:
            yield value
        for child in value.values():
            yield from dicts_with(child, key)
    elif isinstance(value, list):
        for child in value:
            yield from dicts_with(child, key)


def strings(value: Any) -> Iterator[str]:
    """Every string inside `value`, with JSON text decoded (messages are JSON inside JSON)."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                return
            yield from strings(decoded)
    elif isinstance(value, dict):
        for child in value.values():
            yield from strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from strings(child)


def first_line(text: str, width: int = 90) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


async def tour(client: Client) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    missing = sorted(set(TOOLS_USED) - tools)
    if missing:
        raise TourFailed(f"the server does not offer {', '.join(missing)}")
    print(f"connected: {len(tools)} tools, including {', '.join(TOOLS_USED)}\n")

    print(f"1. SearchTraces  filter_string={QUESTION_FILTER!r}")
    found = await call(
        client, "SearchTraces", {"filter_string": QUESTION_FILTER, "max_results": 10}
    )
    trace_ids = list(dict.fromkeys(d["trace_id"] for d in dicts_with(found, "trace_id")))
    if not trace_ids:
        raise TourFailed("no trace mentions a roaming charge; load the demo: tracejudge demo")
    trace_id = trace_ids[0]
    print(f"   {len(trace_ids)} trace(s); reading {trace_id}\n")

    print("2. GetTraceInfo")
    info = await call(client, "GetTraceInfo", {"trace_id": trace_id})
    summary = next((d for d in dicts_with(info, "trace_id") if d["trace_id"] == trace_id), {})
    for key in (
        "name",
        "status",
        "session_id",
        "user_id",
        "span_count",
        "request_preview",
        "response_preview",
    ):
        if summary.get(key) is not None:
            print(f"   {key:<17} {first_line(str(summary[key]))}")
    print()

    print("3. ListSpans")
    listed = await call(client, "ListSpans", {"trace_id": trace_id, "max_results": 100})
    spans = [d for d in dicts_with(listed, "span_id") if "name" in d]
    for span in spans:
        print(f"   {span['span_id']}  {span['name']}")
    names = [span["name"] for span in spans]
    specialists = [n.removeprefix("invoke_agent ") for n in names if n.startswith("invoke_agent ")]
    specialists = [n for n in specialists if n != "support_router"]
    if specialists != ["product_specialist"] or "execute_tool lookup_invoice" in names:
        raise TourFailed(
            f"the roaming-charge question went to {specialists or 'no specialist'}: "
            "no misroute to find (was the router prompt fixed?)"
        )
    print("   -> a billing question, handled by product_specialist; lookup_invoice never ran\n")

    print("4. SearchTraceRegex  pattern='(?i)roaming'")
    matched = await call(
        client,
        "SearchTraceRegex",
        {"trace_id": trace_id, "pattern": "(?i)roaming", "max_matches": 20},
    )
    matches = list(dicts_with(matched, "span_id"))
    if not matches:
        raise TourFailed("SearchTraceRegex found no 'roaming' in a trace about roaming")
    by_id = {span["span_id"]: span["name"] for span in spans}
    for match in matches[:6]:
        # Each match names its span and field and carries the text around it.
        name = match.get("span_name") or by_id.get(match["span_id"], match["span_id"])
        before, after = match.get("before", "")[-35:], match.get("after", "")[:35]
        context = f"{before}[{match.get('match', '')}]{after}"
        print(f"   {name:<27} {match.get('field', '')}\n      {first_line(context)}")
    total = (
        matched.get("total_matches", len(matches)) if isinstance(matched, dict) else len(matches)
    )
    print(f"   ({total} matches in all)\n")

    root_id = next(s["span_id"] for s in spans if s["name"] == "invoke_agent support_router")
    router_chat = next(
        (s for s in spans if s.get("parent_span_id") == root_id and s["name"].startswith("chat ")),
        None,
    )
    if router_chat is None:
        raise TourFailed("the router's chat span is not among the root's children")
    print(f"5. GetSpan  span_id={router_chat['span_id']} (the router's model call)")
    span = await call(client, "GetSpan", {"trace_id": trace_id, "span_id": router_chat["span_id"]})
    texts = list(strings(span))
    rule = next(
        (
            m[0]
            for t in texts
            for m in [re.search(r"^\s*\d+\..*\broaming\b.*->\s*\w+", t, re.M)]
            if m
        ),
        None,
    )
    if rule is None or "product_specialist" not in rule:
        raise TourFailed("the router's system prompt does not route roaming to product_specialist")
    if "product_specialist" not in texts:
        raise TourFailed("the router's model call did not answer product_specialist")
    print(f"   system prompt rule: {rule.strip()}")
    print("   model answered:     product_specialist\n")
    print(
        "Diagnosis: the router checks its keyword rules in order and 'roaming' is a product\n"
        "keyword listed before the billing ones ('charged', 'bill'), so a question about a\n"
        "roaming *charge* goes to the product specialist, which sells a Travel Pass and never\n"
        "opens the invoice. Put the billing rule first, or route on intent, not keywords."
    )


def tracejudge_command(command: str) -> str:
    """The tracejudge executable: as given, on PATH, or next to this Python (a virtualenv)."""
    if os.sep in command:
        return command
    beside = Path(sys.executable).with_name(command)
    return shutil.which(command) or (str(beside) if beside.exists() else command)


async def main_async(args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        if args.stdio:
            server: Any = StdioServerParameters(
                command=tracejudge_command(args.command), args=["stdio", "--db", str(args.db)]
            )
        else:
            headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
            )
            server = streamable_http_client(args.url, http_client=http)
        client = await stack.enter_async_context(Client(server, read_timeout_seconds=30))
        with anyio.fail_after(args.timeout):
            await tour(client)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"MCP endpoint (default {DEFAULT_URL})")
    parser.add_argument(
        "--token",
        default=os.environ.get("TRACEJUDGE_TOKEN"),
        help="bearer token (default $TRACEJUDGE_TOKEN)",
    )
    parser.add_argument(
        "--stdio", action="store_true", help="start `tracejudge stdio` instead of using --url"
    )
    parser.add_argument(
        "--db", type=Path, default=Path("~/.tracejudge/tracejudge.db"), help="database for --stdio"
    )
    parser.add_argument("--command", default="tracejudge", help="tracejudge executable for --stdio")
    parser.add_argument("--timeout", type=float, default=60, help="give up after this many seconds")
    args = parser.parse_args(argv)
    try:
        anyio.run(main_async, args)
    except Exception as exc:
        # The MCP client runs in task groups: whatever failed arrives wrapped in ExceptionGroups.
        while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        if isinstance(exc, TourFailed):
            reason = str(exc)
        elif isinstance(exc, TimeoutError):
            reason = f"no answer within {args.timeout} s"
        else:
            where = f"tracejudge stdio --db {args.db}" if args.stdio else args.url
            reason = f"could not talk to {where}: {type(exc).__name__}: {exc}"
        print(f"tour failed: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
