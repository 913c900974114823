"""Traces built straight through the store's write path, and helpers to call tools on them."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client

from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database, SpanIn, write_spans

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def span_id(n: int) -> str:
    return f"{n:016x}"


def make_span(n: int, parent: int | None = None, *, trace_id: str = TRACE_ID, **fields: Any) -> SpanIn:
    """Span number n (id = n in hex), starting n milliseconds into the trace unless told otherwise."""
    fields.setdefault("name", f"span-{n}")
    fields.setdefault("start_ns", T0 + n * 1_000_000)
    fields.setdefault("end_ns", fields["start_ns"] + 500_000)
    return SpanIn(
        trace_id=trace_id,
        span_id=span_id(n),
        parent_span_id=span_id(parent) if parent is not None else None,
        **fields,
    )


def small_trace(db: Database) -> None:
    """An agent (1) calling an LLM (2) and two tools (3, 4); tool 4 failed with an exception."""
    write_spans(
        db,
        [
            make_span(
                1,
                name="support-agent",
                span_type="AGENT",
                start_ns=T0,
                end_ns=T0 + 3 * SECOND,
                inputs_json=json.dumps({"question": "Why was I charged twice?"}),
                outputs_json=json.dumps("You were refunded."),
                attributes={"session.id": "s-1", "user.tier": "gold"},
                trace_tags={"env": "prod"},
                trace_metadata={"app_version": "1.2.3"},
            ),
            make_span(
                2,
                1,
                name="ChatOpenAI",
                span_type="CHAT_MODEL",
                start_ns=T0 + SECOND // 10,
                end_ns=T0 + SECOND,
                model="gpt-4o",
                input_tokens=100,
                output_tokens=20,
                total_tokens=120,
                inputs_json=json.dumps({"messages": [{"role": "user", "content": "Why was I charged twice?"}]}),
                inputs_source="gen_ai.input.messages",
                outputs_json=json.dumps({"role": "assistant", "content": "Let me look up the invoice."}),
            ),
            make_span(
                3,
                1,
                name="lookup_invoice",
                span_type="TOOL",
                tool_name="lookup_invoice",
                start_ns=T0 + SECOND,
                end_ns=T0 + 2 * SECOND,
                attributes={"http.url": "https://billing.example/invoices/42"},
            ),
            make_span(
                4,
                1,
                name="refund",
                span_type="TOOL",
                status_code="ERROR",
                status_message="rate limited",
                start_ns=T0 + 1_500_000_000,
                end_ns=T0 + 2_500_000_000,
                events=[
                    {"name": "retry", "attributes": {"attempt": 1}},
                    {"name": "retry", "attributes": {"attempt": 2}},
                    {"name": "exception", "attributes": {"exception.message": "HTTP 429: rate limit exceeded"}},
                ],
            ),
        ],
    )


async def call(db: Database, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's structured answer through an in-process MCP client; fails the test on a tool
    error. Checks the text content is the same JSON."""
    async with Client(create_server(Settings(), db)) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def call_error(db: Database, tool: str, **arguments: Any) -> str:
    """The message of a tool error; fails the test if the call succeeds."""
    async with Client(create_server(Settings(), db)) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text


def answer_chars(answer: dict[str, Any]) -> int:
    return len(json.dumps(answer, ensure_ascii=False, separators=(",", ":")))
