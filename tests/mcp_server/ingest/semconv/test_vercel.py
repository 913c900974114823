"""Vercel AI SDK telemetry spans (experimental_telemetry), as generateText emits them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn


def _normalized(attributes: dict[str, Any], name: str) -> SpanIn:
    span = SpanIn(trace_id="a" * 32, span_id="b" * 16, name=name, start_ns=1, attributes=attributes)
    normalize(span)
    return span


def test_the_outer_generate_text_span_is_an_agent_and_the_inner_call_the_llm():
    common = {"ai.model.id": "gpt-4o", "ai.model.provider": "openai.chat", "ai.telemetry.functionId": "weather",
              "ai.telemetry.metadata.sessionId": "sess-3", "ai.telemetry.metadata.userId": "u-1",
              "ai.telemetry.metadata.plan": "pro", "operation.name": "ai.generateText weather"}  # fmt: skip
    outer = _normalized(
        {
            **common,
            "ai.operationId": "ai.generateText",
            "ai.prompt": '{"system": "Be brief.", "prompt": "Weather in Paris?"}',
            "ai.response.text": "Rainy.",
            "ai.response.finishReason": "stop",
            "ai.usage.promptTokens": 20,
            "ai.usage.completionTokens": 5,
        },
        "ai.generateText",
    )
    inner = _normalized(
        {
            **common,
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.prompt.format": "messages",
            "ai.prompt.messages": '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]',
            "ai.prompt.tools": ['{"type": "function", "name": "weather", "parameters": {}}'],
            "ai.response.text": "",
            "ai.response.toolCalls": '[{"toolCallType": "function", "toolCallId": "call_1", "toolName": "weather", "args": "{\\"city\\": \\"Paris\\"}"}]',
            "ai.response.model": "gpt-4o-2024-08-06",
            "ai.usage.inputTokens": "20",
            "ai.usage.outputTokens": "5",
            "ai.usage.totalTokens": 25,
            "gen_ai.system": "openai.chat",
            "gen_ai.request.model": "gpt-4o",
        },
        "ai.generateText.doGenerate",
    )
    assert (outer.span_type, inner.span_type) == ("AGENT", "LLM")
    assert json.loads(outer.inputs_json) == {"system": "Be brief.", "prompt": "Weather in Paris?"}
    assert outer.inputs_source == "ai.prompt"
    assert (json.loads(outer.outputs_json), outer.outputs_source) == ("Rainy.", "ai.response.text")
    assert (outer.input_tokens, outer.output_tokens, outer.total_tokens) == (20, 5, 25)
    assert outer.model == "gpt-4o"
    assert (outer.session_id, outer.user_id) == ("sess-3", "u-1")
    assert outer.trace_metadata == {"sessionId": "sess-3", "userId": "u-1", "plan": "pro"}

    assert inner.inputs_source == "ai.prompt.messages"
    assert json.loads(inner.inputs_json)[0] == {"role": "system", "content": "Be brief."}
    assert inner.outputs_source == "ai.response.toolCalls"
    assert json.loads(inner.outputs_json)[0]["toolName"] == "weather"
    assert (inner.model, inner.input_tokens, inner.output_tokens, inner.total_tokens) == ("gpt-4o-2024-08-06", 20, 5, 25)
    assert inner.attributes["ai.prompt.tools"] == [{"type": "function", "name": "weather", "parameters": {}}]
    assert inner.attributes["ai.response.text"] == ""


def test_a_tool_call_span_moves_args_and_result():
    span = _normalized(
        {
            "ai.operationId": "ai.toolCall",
            "ai.toolCall.name": "weather",
            "ai.toolCall.id": "call_1",
            "ai.toolCall.args": '{"city": "Paris"}',
            "ai.toolCall.result": '{"forecast": "rain"}',
        },
        "ai.toolCall weather",
    )
    assert (span.span_type, span.tool_name) == ("TOOL", "weather")
    assert (json.loads(span.inputs_json), span.inputs_source) == ({"city": "Paris"}, "ai.toolCall.args")
    assert (json.loads(span.outputs_json), span.outputs_source) == ({"forecast": "rain"}, "ai.toolCall.result")
    assert span.attributes == {"ai.operationId": "ai.toolCall", "ai.toolCall.name": "weather", "ai.toolCall.id": "call_1"}


@pytest.mark.parametrize(
    ("operation", "span_type"),
    [
        ("ai.streamText", "AGENT"),
        ("ai.streamText.doStream", "LLM"),
        ("ai.generateObject", "CHAIN"),
        ("ai.generateObject.doGenerate", "LLM"),
        ("ai.embed", "CHAIN"),
        ("ai.embedMany.doEmbed", "EMBEDDING"),
        ("ai.somethingElse", "UNKNOWN"),
    ],
)
def test_operation_ids_map_to_span_types(operation, span_type):
    assert _normalized({"ai.operationId": operation}, operation).span_type == span_type
