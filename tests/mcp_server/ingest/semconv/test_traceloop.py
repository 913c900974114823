"""Traceloop / OpenLLMetry spans: workflow and tool spans from its decorators, LLM spans from its
instrumentations (older gen_ai.* attributes with llm.request.type)."""

from __future__ import annotations

import json
from typing import Any

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn

ASSOCIATION = {
    "traceloop.association.properties.session_id": "sess-9",
    "traceloop.association.properties.user_id": "user-4",
    "traceloop.association.properties.tenant": "acme",
}


def _normalized(attributes: dict[str, Any], name: str = "span") -> SpanIn:
    span = SpanIn(trace_id="a" * 32, span_id="b" * 16, name=name, start_ns=1, attributes=attributes)
    normalize(span)
    return span


def test_a_workflow_span_takes_entity_input_and_output_and_association_properties():
    span = _normalized(
        {
            "traceloop.span.kind": "workflow",
            "traceloop.workflow.name": "joke_generator",
            "traceloop.entity.name": "joke_generator",
            "traceloop.entity.path": "",
            "traceloop.entity.input": '{"args": [], "kwargs": {"topic": "cats"}}',
            "traceloop.entity.output": '"Why did the cat..."',
            **ASSOCIATION,
        },
        "joke_generator.workflow",
    )
    assert span.span_type == "WORKFLOW"
    assert (json.loads(span.inputs_json), span.inputs_source) == ({"args": [], "kwargs": {"topic": "cats"}}, "traceloop.entity.input")
    assert (json.loads(span.outputs_json), span.outputs_source) == ("Why did the cat...", "traceloop.entity.output")
    assert (span.session_id, span.user_id) == ("sess-9", "user-4")
    assert span.trace_metadata == {"tenant": "acme"}
    assert span.tool_name is None


def test_a_tool_span_is_named_by_its_entity():
    span = _normalized({"traceloop.span.kind": "tool", "traceloop.entity.name": "search_web"}, "search_web.tool")
    assert (span.span_type, span.tool_name) == ("TOOL", "search_web")


def test_task_and_agent_kinds():
    assert _normalized({"traceloop.span.kind": "task"}).span_type == "TASK"
    assert _normalized({"traceloop.span.kind": "agent"}).span_type == "AGENT"


def test_an_llm_span_of_its_instrumentation_reads_request_type_and_total_tokens():
    span = _normalized(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.prompt_tokens": 14,
            "gen_ai.usage.completion_tokens": 9,
            "llm.usage.total_tokens": 23,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Tell me a joke about cats",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Why did the cat...",
            "gen_ai.completion.0.finish_reason": "stop",
            **ASSOCIATION,
        },
        "openai.chat",
    )
    assert span.span_type == "CHAT_MODEL"
    assert (span.model, span.input_tokens, span.output_tokens, span.total_tokens) == ("gpt-4o-mini-2024-07-18", 14, 9, 23)
    assert json.loads(span.inputs_json) == [{"role": "user", "content": "Tell me a joke about cats"}]
    assert json.loads(span.outputs_json) == [{"role": "assistant", "content": "Why did the cat...", "finish_reason": "stop"}]
    assert span.session_id == "sess-9"


def test_a_tools_call_site_arguments_are_shown_unwrapped_and_kept_as_they_came():
    recorded = {"args": [], "kwargs": {"city": "Paris"}}
    span = _normalized({"traceloop.span.kind": "tool", "traceloop.entity.name": "get_weather",
                        "traceloop.entity.input": json.dumps(recorded)})  # fmt: skip
    assert (span.tool_name, json.loads(span.inputs_json)) == ("get_weather", {"city": "Paris"})
    assert span.attributes["traceloop.entity.input"] == recorded
    positional = _normalized({"traceloop.span.kind": "tool", "traceloop.entity.input": '{"args": ["Paris"], "kwargs": {}}'})
    assert json.loads(positional.inputs_json) == ["Paris"]
    both = _normalized({"traceloop.span.kind": "tool", "traceloop.entity.input": '{"args": ["Paris"], "kwargs": {"unit": "C"}}'})
    assert json.loads(both.inputs_json) == {"args": ["Paris"], "kwargs": {"unit": "C"}}


def test_a_workflows_call_site_input_is_not_unwrapped_but_gives_its_question():
    span = _normalized({"traceloop.span.kind": "workflow", "traceloop.entity.input": '{"args": ["Why?"], "kwargs": {}}'})
    assert json.loads(span.inputs_json) == {"args": ["Why?"], "kwargs": {}}
    assert span.request_text == "Why?"
