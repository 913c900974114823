"""OpenTelemetry GenAI conventions, golden spans as the instrumentations emit them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn


def _normalized(attributes: dict[str, Any], events: list[dict[str, Any]] | None = None, name: str = "span") -> SpanIn:
    span = SpanIn(
        trace_id="5b8efff798038103d269b633813fc60c", span_id="eee19b7ec3c1b174", name=name,
        start_ns=1, attributes=attributes, events=events or [],
    )  # fmt: skip
    normalize(span)
    return span


INPUT = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
OUTPUT = [{"role": "assistant", "parts": [{"type": "text", "content": "Rainy, 57°F."}], "finish_reason": "stop"}]
INSTRUCTIONS = [{"type": "text", "content": "You are a weather bot."}]


def test_a_chat_span_with_json_string_messages_fills_every_field():
    span = _normalized(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 97,
            "gen_ai.usage.output_tokens": 52,
            "gen_ai.conversation.id": "conv_5j66",
            "gen_ai.input.messages": json.dumps(INPUT),
            "gen_ai.output.messages": json.dumps(OUTPUT),
            "gen_ai.system_instructions": json.dumps(INSTRUCTIONS),
            "gen_ai.response.finish_reasons": ["stop"],
        },
        name="chat gpt-4o",
    )
    assert span.span_type == "CHAT_MODEL"
    assert span.model == "gpt-4o-2024-08-06"
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (97, 52, 149)
    assert json.loads(span.inputs_json) == INPUT and span.inputs_source == "gen_ai.input.messages"
    assert json.loads(span.outputs_json) == OUTPUT and span.outputs_source == "gen_ai.output.messages"
    assert span.session_id == "conv_5j66"
    assert span.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 97,
        "gen_ai.usage.output_tokens": 52,
        "gen_ai.conversation.id": "conv_5j66",
        "gen_ai.system_instructions": INSTRUCTIONS,
        "gen_ai.response.finish_reasons": ["stop"],
    }


def test_structured_messages_are_taken_as_they_are():
    span = _normalized({"gen_ai.operation.name": "chat", "gen_ai.input.messages": INPUT, "gen_ai.output.messages": OUTPUT})
    assert json.loads(span.inputs_json) == INPUT
    assert json.loads(span.outputs_json) == OUTPUT


@pytest.mark.parametrize(
    ("operation", "span_type"),
    [
        ("chat", "CHAT_MODEL"),
        ("generate_content", "CHAT_MODEL"),
        ("text_completion", "LLM"),
        ("embeddings", "EMBEDDING"),
        ("execute_tool", "TOOL"),
        ("invoke_agent", "AGENT"),
        ("create_agent", "AGENT"),
        ("invoke_workflow", "WORKFLOW"),
        ("retrieval", "RETRIEVER"),
        ("something_new", "UNKNOWN"),
    ],
)
def test_operation_names_map_to_span_types(operation, span_type):
    assert _normalized({"gen_ai.operation.name": operation}).span_type == span_type


def test_an_execute_tool_span_moves_arguments_and_result_and_names_the_tool():
    span = _normalized(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": '{"location": "Paris"}',
            "gen_ai.tool.call.result": "rainy, 57°F",
        }
    )
    assert (span.span_type, span.tool_name) == ("TOOL", "get_weather")
    assert (span.inputs_json, span.inputs_source) == ('{"location": "Paris"}', "gen_ai.tool.call.arguments")
    assert (span.outputs_json, span.outputs_source) == ('"rainy, 57°F"', "gen_ai.tool.call.result")
    assert span.attributes == {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.id": "call_1"}


def test_deprecated_attributes_still_fill_the_fields():
    # What instrumentations on conventions v1.36 and older emit by default (e.g. OpenLLMetry).
    span = _normalized(
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.usage.prompt_tokens": "12",
            "gen_ai.usage.completion_tokens": 30,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Tell me a joke",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Why did the chicken...",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.completion.0.tool_calls.0.name": "laugh",
            "gen_ai.completion.0.tool_calls.0.arguments": "{}",
        }
    )
    assert (span.model, span.input_tokens, span.output_tokens, span.total_tokens) == ("gpt-3.5-turbo", 12, 30, 42)
    assert span.inputs_source == "gen_ai.prompt"
    assert json.loads(span.inputs_json) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell me a joke"},
    ]
    assert span.outputs_source == "gen_ai.completion"
    assert json.loads(span.outputs_json) == [
        {
            "role": "assistant",
            "content": "Why did the chicken...",
            "finish_reason": "stop",
            "tool_calls": [{"name": "laugh", "arguments": "{}"}],
        }
    ]
    assert span.attributes == {
        "gen_ai.system": "openai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-3.5-turbo",
        "gen_ai.usage.prompt_tokens": "12",
        "gen_ai.usage.completion_tokens": 30,
    }


def test_message_events_become_inputs_and_choice_events_outputs():
    events = [
        {"name": "gen_ai.system.message", "time_ns": 1, "attributes": {"gen_ai.system": "openai", "content": "Be brief."}},
        {"name": "gen_ai.user.message", "time_ns": 2, "attributes": {"gen_ai.system": "openai", "content": "Hi"}},
        {"name": "gen_ai.assistant.message", "time_ns": 3, "attributes": {"gen_ai.event.content": '{"content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}'}},
        {"name": "gen_ai.tool.message", "time_ns": 4, "attributes": {"id": "c1", "content": "42"}},
        {"name": "gen_ai.choice", "time_ns": 5, "attributes": {"index": 0, "finish_reason": "stop", "message": '{"role": "assistant", "content": "Hello!"}'}},
    ]
    span = _normalized({"gen_ai.operation.name": "chat"}, events)
    assert json.loads(span.inputs_json) == [
        {"content": "Be brief.", "role": "system"},
        {"content": "Hi", "role": "user"},
        {"content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}], "role": "assistant"},
        {"id": "c1", "content": "42", "role": "tool"},
    ]
    assert span.inputs_source == "event:gen_ai.system.message,gen_ai.user.message,gen_ai.assistant.message,gen_ai.tool.message"
    assert json.loads(span.outputs_json) == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}]
    assert span.outputs_source == "event:gen_ai.choice"
    assert len(span.events) == 5  # events keep their times and attributes


def test_the_operation_details_event_gives_inputs_and_outputs():
    events = [
        {
            "name": "gen_ai.client.inference.operation.details",
            "time_ns": 9,
            "attributes": {"gen_ai.operation.name": "chat", "gen_ai.input.messages": INPUT, "gen_ai.output.messages": OUTPUT},
        }
    ]
    span = _normalized({"gen_ai.operation.name": "chat"}, events)
    assert json.loads(span.inputs_json) == INPUT
    assert json.loads(span.outputs_json) == OUTPUT
    assert span.inputs_source == span.outputs_source == "event:gen_ai.client.inference.operation.details"


def test_older_content_events_give_prompt_and_completion():
    events = [
        {"name": "gen_ai.content.prompt", "time_ns": 1, "attributes": {"gen_ai.prompt": '[{"role": "user", "content": "Hi"}]'}},
        {"name": "gen_ai.content.completion", "time_ns": 2, "attributes": {"gen_ai.completion": '[{"role": "assistant", "content": "Hey"}]'}},
    ]
    span = _normalized({"gen_ai.operation.name": "chat"}, events)
    assert json.loads(span.inputs_json) == [{"role": "user", "content": "Hi"}]
    assert json.loads(span.outputs_json) == [{"role": "assistant", "content": "Hey"}]


@pytest.mark.parametrize("bad", [-1, "lots", 10**12, 1.5, True, None, [3]])
def test_token_counts_that_are_not_sane_integers_are_dropped(bad):
    span = _normalized({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": bad, "gen_ai.usage.output_tokens": "7"})
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (None, 7, None)


# Pre-1.27 GenAI: no gen_ai.operation.name, as opentelemetry-instrumentation-openai 0.4x emitted.
OLD_STYLE_CHAT = {
    "gen_ai.system": "OpenAI",
    "gen_ai.request.model": "gpt-3.5-turbo",
    "gen_ai.request.max_tokens": 100,
    "gen_ai.request.temperature": 0.7,
    "gen_ai.openai.api_base": "https://api.openai.com/v1/",
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "Tell me a joke about OpenTelemetry",
    "gen_ai.response.model": "gpt-3.5-turbo-0125",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "Why did the span break up with the trace? Too many parents.",
    "gen_ai.usage.prompt_tokens": 15,
    "gen_ai.usage.completion_tokens": 14,
}


def test_a_pre_1_27_model_call_without_an_operation_name_is_an_llm_span_whose_tokens_count(db):
    from store import write_spans

    span = _normalized(dict(OLD_STYLE_CHAT), name="openai.chat")

    assert span.span_type == "LLM"
    assert (span.model, span.input_tokens, span.output_tokens, span.total_tokens) == ("gpt-3.5-turbo-0125", 15, 14, 29)
    assert json.loads(span.inputs_json) == [{"role": "user", "content": "Tell me a joke about OpenTelemetry"}]
    assert json.loads(span.outputs_json)[0]["finish_reason"] == "stop"
    write_spans(db, [span])
    totals = db.reader().execute("SELECT input_tokens, output_tokens, total_tokens FROM traces").fetchone()
    assert tuple(totals) == (15, 14, 29)


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.provider.name": "anthropic", "gen_ai.usage.input_tokens": 3},
        {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
    ],
)
def test_a_provider_with_a_model_or_usage_types_the_span_llm(attributes):
    assert _normalized(attributes).span_type == "LLM"


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.system": "openai"},
        {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3},
        {**OLD_STYLE_CHAT, "gen_ai.operation.name": "execute_tool"},
        {**OLD_STYLE_CHAT, "openinference.span.kind": "CHAIN"},
    ],
)
def test_the_legacy_rule_needs_a_provider_and_a_model_and_yields_to_every_explicit_type(attributes):
    assert _normalized(attributes).span_type in {"UNKNOWN", "TOOL", "CHAIN"}
    assert _normalized(attributes).span_type != "LLM"


def test_an_empty_structured_output_yields_to_the_flattened_form_that_has_the_call():
    # litellm's tool-call turn (tests/data/instrumentation/litellm-otel).
    empty = [{"role": "assistant", "parts": [], "finish_reason": "tool_calls"}]
    span = _normalized(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.output.messages": json.dumps(empty),
            "gen_ai.completion.0.function_call.name": "get_weather",
            "gen_ai.completion.0.function_call.arguments": '{"city": "Paris"}',
        }
    )
    assert span.outputs_source == "gen_ai.completion"
    assert json.loads(span.outputs_json) == [{"function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    assert span.attributes["gen_ai.output.messages"] == empty


def test_an_empty_structured_output_is_still_taken_when_nothing_else_is_there():
    empty = [{"role": "assistant", "parts": []}]
    span = _normalized({"gen_ai.operation.name": "chat", "gen_ai.output.messages": json.dumps(empty)})
    assert (span.outputs_source, json.loads(span.outputs_json)) == ("gen_ai.output.messages", empty)
    assert "gen_ai.output.messages" not in span.attributes


@pytest.mark.parametrize(
    ("attributes", "cost"),
    [
        ({"gen_ai.cost.total_cost": 1.35e-05, "gen_ai.cost.input_cost": 1.0}, 1.35e-05),  # litellm
        ({"gen_ai.cost.input_cost": 0.25, "gen_ai.cost.output_cost": 0.5}, 0.75),
        ({"gen_ai.usage.cost": 0.125}, 0.125),
        ({"operation.cost": 1.77e-05}, 1.77e-05),  # pydantic-ai
        ({"llm.cost.prompt": 0.5, "llm.cost.completion": 0.25}, 0.75),  # OpenInference
        ({}, None),
    ],
)
def test_cost_is_read_from_every_form_and_unknown_stays_none(attributes: dict[str, Any], cost: float | None):
    span = _normalized({"gen_ai.operation.name": "chat", **attributes})
    assert span.cost == pytest.approx(cost) if cost is not None else span.cost is None
