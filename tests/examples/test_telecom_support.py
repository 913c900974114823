"""examples/telecom_support/run.py, run for real: the OTel SDK's OTLP/HTTP exporter posting to a
receiver on 127.0.0.1, and to a real `tracejudge serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
from store import Database
from tests.examples.otlp_receiver import otlp_receiver
from tests.support.processes import serve

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "examples" / "telecom_support" / "run.py"
SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS_ERROR = 2


def run_example(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEJUDGE_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, str(RUN_PY), "--endpoint", endpoint, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )


@pytest.fixture(scope="module")
def exported() -> tuple[
    subprocess.CompletedProcess[str], list[dict[str, Any]], list[tuple[str, dict[str, str], bytes]]
]:
    with otlp_receiver() as receiver:
        result = run_example(receiver.url, "--token", "s3cret")
    return result, receiver.spans(), receiver.requests


def by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        traces.setdefault(span["trace_id"], []).append(span)
    return traces


def root_of(trace: list[dict[str, Any]]) -> dict[str, Any]:
    (root,) = [span for span in trace if span["parent_span_id"] is None]
    return root


def text_of(messages_json: str) -> str:
    return " ".join(
        part.get("content", "")
        for message in json.loads(messages_json)
        for part in message["parts"]
        if part["type"] == "text"
    )


def test_run_py_exports_ten_traces_with_a_router_root_each(exported):
    result, spans, requests = exported
    assert result.returncode == 0, result.stderr
    assert "sent 70 spans in 10 traces" in result.stdout
    assert {path for path, _, _ in requests} == {"/v1/traces"}
    assert all(headers["content-type"] == "application/x-protobuf" for _, headers, _ in requests)
    assert all(headers["authorization"] == "Bearer s3cret" for _, headers, _ in requests)
    traces = by_trace(spans)
    assert len(traces) == 10
    for trace in traces.values():
        root = root_of(trace)
        assert root["name"] == "invoke_agent support_router"
        assert root["attributes"]["gen_ai.agent.name"] == "support_router"
        assert root["attributes"]["user.id"].startswith("NW-")
        assert root["resource"]["service.name"] == "northwind-support-agent"
        assert all(
            root["start_ns"] <= span["start_ns"] <= span["end_ns"] <= root["end_ns"]
            for span in trace
        )


def test_every_span_follows_the_genai_naming_conventions(exported):
    _, spans, _ = exported
    for span in spans:
        attributes = span["attributes"]
        operation = attributes["gen_ai.operation.name"]
        assert "gen_ai.conversation.id" in attributes
        if operation == "chat":
            assert span["name"] == "chat gpt-4o-mini"
            assert span["kind"] == SPAN_KIND_CLIENT
            assert attributes["gen_ai.provider.name"] == "openai"
            assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
            assert attributes["gen_ai.response.model"].startswith("gpt-4o-mini")
            assert (
                attributes["gen_ai.usage.input_tokens"]
                > 0
                < attributes["gen_ai.usage.output_tokens"]
            )
            for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
                messages = json.loads(attributes[key])  # a JSON string, as the spec says for spans
                assert all({"role", "parts"} <= message.keys() for message in messages)
                assert all("type" in part for message in messages for part in message["parts"])
            (output,) = json.loads(attributes["gen_ai.output.messages"])
            assert [output["finish_reason"]] == attributes["gen_ai.response.finish_reasons"]
        elif operation == "invoke_agent":
            assert span["name"] == f"invoke_agent {attributes['gen_ai.agent.name']}"
            assert span["kind"] == SPAN_KIND_INTERNAL
        else:
            assert operation == "execute_tool"
            assert span["name"] == f"execute_tool {attributes['gen_ai.tool.name']}"
            assert attributes["gen_ai.tool.call.id"].startswith("call_")
            assert isinstance(json.loads(attributes["gen_ai.tool.call.arguments"]), dict)
    assert Counter(span["attributes"]["gen_ai.operation.name"] for span in spans) == {
        "invoke_agent": 20, "chat": 35, "execute_tool": 15,
    }  # fmt: skip


def test_each_tool_span_runs_a_tool_call_the_model_asked_for_with_the_same_arguments(exported):
    _, spans, _ = exported
    for trace in by_trace(spans).values():
        requested = {
            part["id"]: (part["name"], part["arguments"])
            for span in trace
            if span["attributes"]["gen_ai.operation.name"] == "chat"
            for message in json.loads(span["attributes"]["gen_ai.output.messages"])
            for part in message["parts"]
            if part["type"] == "tool_call"
        }
        ran = {
            span["attributes"]["gen_ai.tool.call.id"]: (
                span["attributes"]["gen_ai.tool.name"],
                json.loads(span["attributes"]["gen_ai.tool.call.arguments"]),
            )
            for span in trace
            if span["attributes"]["gen_ai.operation.name"] == "execute_tool"
        }
        assert ran == requested
        account_ids = {args["account_id"] for _, args in ran.values() if "account_id" in args}
        assert account_ids <= {root_of(trace)["attributes"]["user.id"]}


def test_the_roaming_charge_question_is_routed_to_product_and_the_invoice_is_never_read(exported):
    _, spans, _ = exported
    (trace,) = [
        trace
        for trace in by_trace(spans).values()
        if "charged for roaming" in text_of(root_of(trace)["attributes"]["gen_ai.input.messages"])
    ]
    root = root_of(trace)
    names = [span["name"] for span in trace]
    assert "invoke_agent product_specialist" in names
    assert "invoke_agent billing_specialist" not in names
    assert "execute_tool lookup_invoice" not in names
    router_chat = next(
        s for s in trace if s["parent_span_id"] == root["span_id"] and s["name"].startswith("chat")
    )
    system, *_ = json.loads(router_chat["attributes"]["gen_ai.input.messages"])
    assert system == {
        "role": "system",
        "parts": [{"type": "text", "content": ROUTER_SYSTEM_PROMPT}],
    }
    assert text_of(router_chat["attributes"]["gen_ai.output.messages"]) == "product_specialist"
    assert root["attributes"]["northwind.route"] == "product_specialist"


def test_the_coverage_timeout_is_an_error_span_with_an_exception_event(exported):
    _, spans, _ = exported
    (failed,) = [span for span in spans if span["status_code"] == STATUS_ERROR]
    assert failed["name"] == "execute_tool check_coverage"
    assert failed["attributes"]["error.type"] == "timeout"
    assert "gen_ai.tool.call.result" not in failed["attributes"]
    assert "did not answer within 5.0 s" in failed["status_message"]
    (event,) = failed["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"].endswith("CoverageServiceTimeout")
    assert event["attributes"]["exception.message"] == failed["status_message"]
    assert "Traceback" in event["attributes"]["exception.stacktrace"]
    assert failed["start_ns"] < event["time_ns"] <= failed["end_ns"]
    assert failed["end_ns"] - failed["start_ns"] >= 5_000_000_000


def test_a_two_message_conversation_shares_one_conversation_id_across_two_traces(exported):
    _, spans, _ = exported
    roots = [span for span in spans if span["parent_span_id"] is None]
    turns = Counter(root["attributes"]["gen_ai.conversation.id"] for root in roots)
    assert sorted(turns.values()) == [1] * 8 + [2]


def test_run_py_exits_non_zero_when_the_endpoint_rejects_the_export():
    with otlp_receiver(status=400) as receiver:
        result = run_example(receiver.url)
    assert receiver.requests, "the exporter never reached the receiver"
    assert result.returncode == 1
    assert "failed to export" in result.stderr


@pytest.mark.slow
def test_run_py_against_tracejudge_serve_stores_every_trace(tmp_path: Path):
    db_path = tmp_path / "traces.db"
    with serve(db_path) as url:
        result = run_example(f"{url}/v1/traces")
    assert result.returncode == 0, result.stderr
    db = Database(db_path)
    try:
        row = (
            db.reader()
            .execute("SELECT count(*), sum(span_count), sum(error_count) FROM traces")
            .fetchone()
        )
    finally:
        db.close()
    assert tuple(row) == (10, 70, 1)
