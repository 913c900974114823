"""Golden: what real instrumentation libraries export as OTLP logs (tests/data/instrumentation,
recorded by record_logs.py there), sent to the live server before and after the spans, and read
back through the MCP client: each model call's messages, tool call and answer, and the previews."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.support.live_server import LiveServer
from tests.support.mcp_session import session

FIXTURES = Path(__file__).parents[2] / "data" / "instrumentation"
SYSTEM = "You are Northwind's billing assistant. Use the tools to look up invoices."
QUESTION = "Why was I charged twice for roaming in March?"
# The tool's result is JSON text; like a span event's JSON attribute, it reads back decoded.
TOOL_RESULT = {"roaming": 12.0, "day_pass": 12.0}
ANSWER = "You were charged once for roaming and once for a day pass; I have refunded the day pass."
TOOL_CALL = {"id": "call_8f3a", "type": "function", "function": {"name": "lookup_invoice", "arguments": '{"month": "2024-03"}'}}


def _load(folder: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / folder / name).read_text())


def _spans(traces: dict[str, Any]) -> list[dict[str, Any]]:
    """The fixture's spans in the order the conversation made them (the tool-call turn first)."""
    spans = [s for r in traces["resourceSpans"] for scope in r["scopeSpans"] for s in scope["spans"]]
    return sorted(spans, key=lambda span: int(span["startTimeUnixNano"]))


def _post(server: LiveServer, path: str, body: dict[str, Any]) -> None:
    response = httpx2.post(f"{server.url}{path}", content=json.dumps(body), headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {}, response.json()


def _ingest(server: LiveServer, folder: str, *, logs_first: bool) -> None:
    traces, logs = _load(folder, "traces.json"), _load(folder, "logs.json")
    order = [("/v1/logs", logs), ("/v1/traces", traces)]
    for path, body in order if logs_first else order[::-1]:
        _post(server, path, body)
    assert server.db.reader().execute("SELECT count(*) FROM pending_logs").fetchone()[0] == 0


async def _read_back(server: LiveServer, folder: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """GetSpan and GetTraceInfo of each model call, in conversation order."""
    out = []
    async with session(server.db) as mcp:
        for span in _spans(_load(folder, "traces.json")):
            got = await mcp.call("GetSpan", trace_id=span["traceId"], span_id=span["spanId"])
            info = await mcp.call("GetTraceInfo", trace_id=span["traceId"])
            out.append((got, info))
    return out


def _openai_v2(calls: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    (first, first_trace), (second, second_trace) = calls
    assert first["inputs"] == [{"content": SYSTEM, "role": "system"}, {"content": QUESTION, "role": "user"}]
    assert first["outputs"] == [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": [TOOL_CALL]}}]
    assert second["inputs"] == [
        {"content": SYSTEM, "role": "system"},
        {"content": QUESTION, "role": "user"},
        {"tool_calls": [TOOL_CALL], "role": "assistant"},
        {"content": TOOL_RESULT, "id": "call_8f3a", "role": "tool"},
    ]
    assert second["outputs"] == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}]
    assert first["inputs_source"] == "event:gen_ai.system.message,gen_ai.user.message"
    assert "lookup_invoice" in first_trace["response_preview"]
    assert QUESTION in second_trace["request_preview"] and ANSWER in second_trace["response_preview"]


def _litellm(calls: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    (first, _), (second, second_trace) = calls
    assert first["inputs"] == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    # litellm's completion record of the tool-call turn carries no tool_calls; the next call's
    # prompt records do.
    assert first["outputs"] == [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant"}}]
    assert second["inputs"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": '{"month": "2024-03"}', "name": "lookup_invoice"}, "id": "call_8f3a", "type": "function"}]},
        {"role": "tool", "tool_call_id": "call_8f3a", "content": TOOL_RESULT},
    ]
    assert second["outputs"] == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}]
    assert first["inputs_source"] == "event:gen_ai.content.prompt"
    assert QUESTION in second_trace["request_preview"] and ANSWER in second_trace["response_preview"]


def _litellm_latest(calls: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    (first, _), (second, second_trace) = calls
    assert first["inputs"] == [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
    ]
    # litellm writes the tool-call turn's output message with no parts, and the call only in the
    # next call's input messages, in OpenAI's form beside empty parts: kept as sent.
    assert first["outputs"] == [{"role": "assistant", "parts": [], "finish_reason": "tool_calls"}]
    assert [m["role"] for m in second["inputs"]] == ["system", "user", "assistant", "tool"]
    assert second["inputs"][2]["tool_calls"] == [
        {"function": {"arguments": '{"month": "2024-03"}', "name": "lookup_invoice"}, "id": "call_8f3a", "type": "function"}
    ]
    assert second["outputs"] == [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]
    assert first["inputs_source"] == "event:gen_ai.client.inference.operation.details"
    assert QUESTION in second_trace["request_preview"] and ANSWER in second_trace["response_preview"]


def _traceloop(calls: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    (first, first_trace), (second, second_trace) = calls
    assert first["inputs"] == [{"content": SYSTEM, "role": "system"}, {"content": QUESTION, "role": "user"}]
    call = {"id": "call_8f3a", "function": {"arguments": '{"month": "2024-03"}', "name": "lookup_invoice"}, "type": "function"}
    assert first["outputs"] == [{"index": 0, "message": {"content": None}, "finish_reason": "tool_calls", "tool_calls": [call]}]
    assert second["inputs"] == [
        {"content": SYSTEM, "role": "system"},
        {"content": QUESTION, "role": "user"},
        {"content": None, "tool_calls": [call], "role": "assistant"},
        {"content": TOOL_RESULT, "role": "tool"},
    ]
    assert second["outputs"] == [{"index": 0, "message": {"content": ANSWER}, "finish_reason": "stop"}]
    assert "lookup_invoice" in first_trace["response_preview"]
    assert QUESTION in second_trace["request_preview"] and ANSWER in second_trace["response_preview"]


GOLDEN: dict[str, Callable[[list[tuple[dict[str, Any], dict[str, Any]]]], None]] = {
    "openai_v2_events": _openai_v2,
    "litellm_otel_events": _litellm,
    "litellm_otel_latest_events": _litellm_latest,
    "traceloop_events": _traceloop,
}


@pytest.mark.parametrize("logs_first", [True, False], ids=["logs-first", "spans-first"])
@pytest.mark.parametrize("folder", sorted(GOLDEN))
async def test_recorded_logs_give_each_model_call_its_messages_and_the_trace_its_previews(
    start_server: Callable[..., LiveServer], folder: str, logs_first: bool
) -> None:
    server = start_server()
    _ingest(server, folder, logs_first=logs_first)

    GOLDEN[folder](await _read_back(server, folder))


def _as_span_events(folder: str) -> dict[str, Any]:
    """The fixture's traces with each log record added to its span as the span event of the same
    name: the record's attributes, then its body's fields as attributes."""
    traces = copy.deepcopy(_load(folder, "traces.json"))
    by_id = {span["spanId"]: span for span in _spans(traces)}
    for resource in _load(folder, "logs.json")["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                attributes = list(record.get("attributes", []))
                body_fields = record.get("body", {}).get("kvlistValue", {}).get("values", [])
                name = record.get("eventName") or next(a["value"]["stringValue"] for a in attributes if a["key"] in ("event.name", "event_name"))
                time = record.get("timeUnixNano") or record["observedTimeUnixNano"]
                event = {"name": name, "timeUnixNano": time, "attributes": attributes + body_fields}
                by_id[record["spanId"]].setdefault("events", []).append(event)
    return traces


# litellm's per-message gen_ai.content.prompt records have no span-event form to compare with.
@pytest.mark.parametrize("folder", ["openai_v2_events", "litellm_otel_latest_events", "traceloop_events"])
async def test_recorded_logs_read_back_as_the_same_records_sent_as_span_events(
    start_server: Callable[..., LiveServer], folder: str
) -> None:
    from_logs, from_events = start_server(), start_server()
    _ingest(from_logs, folder, logs_first=True)
    _post(from_events, "/v1/traces", _as_span_events(folder))

    for (log_span, log_trace), (event_span, event_trace) in zip(
        await _read_back(from_logs, folder), await _read_back(from_events, folder), strict=True
    ):
        for field in ("inputs", "outputs", "inputs_source", "outputs_source", "span_type", "model", "total_tokens"):
            assert log_span[field] == event_span[field], field
        for field in ("request_preview", "response_preview", "total_tokens", "span_count"):
            assert log_trace[field] == event_trace[field], field
