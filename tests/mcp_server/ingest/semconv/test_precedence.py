"""Spans that carry several dialects, and spans that carry none."""

from __future__ import annotations

import json
from typing import Any

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn


def _normalized(attributes: dict[str, Any]) -> SpanIn:
    span = SpanIn(trace_id="a" * 32, span_id="b" * 16, name="GET /health", start_ns=1, attributes=attributes)
    normalize(span)
    return span


def test_a_plain_span_gets_nothing_invented():
    attributes = {"http.method": "GET", "http.route": "/health", "http.status_code": 200, "payload": '{"not": "decoded"}'}
    span = _normalized(dict(attributes))
    assert span.span_type == "UNKNOWN"
    assert (span.inputs_json, span.outputs_json, span.inputs_source, span.outputs_source) == (None, None, None, None)
    assert (span.model, span.input_tokens, span.output_tokens, span.total_tokens, span.cost) == (None,) * 5
    assert (span.tool_name, span.session_id, span.user_id) == (None, None, None)
    assert (span.trace_tags, span.trace_metadata) == ({}, {})
    assert span.attributes == attributes


def test_explicit_span_kinds_win_over_operation_names():
    assert _normalized({"openinference.span.kind": "AGENT", "gen_ai.operation.name": "chat"}).span_type == "AGENT"
    assert _normalized({"traceloop.span.kind": "tool", "gen_ai.operation.name": "chat"}).span_type == "TOOL"
    assert _normalized({"mlflow.spanType": '"RETRIEVER"', "openinference.span.kind": "LLM"}).span_type == "RETRIEVER"


def test_gen_ai_operation_wins_over_llm_request_type_and_vercel_operation_ids():
    assert _normalized({"gen_ai.operation.name": "embeddings", "llm.request.type": "chat"}).span_type == "EMBEDDING"
    assert _normalized({"gen_ai.operation.name": "chat", "ai.operationId": "ai.generateText"}).span_type == "CHAT_MODEL"


def test_the_richest_explicit_payload_wins_and_the_others_stay_in_attributes():
    messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    span = _normalized(
        {
            "openinference.span.kind": "LLM",
            "input.value": '{"full": "request"}',
            "input.mime_type": "application/json",
            "gen_ai.input.messages": json.dumps(messages),
        }
    )
    assert span.inputs_source == "input.value"
    assert json.loads(span.inputs_json) == {"full": "request"}
    assert span.attributes["gen_ai.input.messages"] == messages


def test_fields_already_set_by_the_caller_are_kept():
    span = SpanIn(
        trace_id="a" * 32, span_id="b" * 16, name="x", start_ns=1, span_type="AGENT", model="kept",
        attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "other"},
    )  # fmt: skip
    normalize(span)
    assert (span.span_type, span.model) == ("AGENT", "kept")


def test_conflicting_flattened_keys_are_left_in_the_attributes_not_lost():
    span = _normalized(
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.role.extra": "conflict",
        }
    )
    assert json.loads(span.inputs_json) == [{"role": "user"}]
    assert span.attributes == {"openinference.span.kind": "LLM", "llm.input_messages.0.message.role.extra": "conflict"}
