"""The question and the answer as text, from every payload shape the recorded libraries send
(tests/data/instrumentation/), for the trace previews."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcp_server.ingest.semconv import normalize
from mcp_server.ingest.semconv.previews import answer, question
from store.incoming import SpanIn

Q, A = "What is the weather in Paris?", "It is sunny in Paris."
CALL = {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "get_weather", "arguments": "{}"}}]}


@pytest.mark.parametrize(
    "payload",
    [
        Q,
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": Q}],
        [{"role": "user", "parts": [{"type": "text", "content": Q}]}, {"role": "user", "parts": [{"type": "tool_call_response", "result": "x"}]}],
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "text", "text": Q}]}]},
        {"messages": [["user", Q]]},  # LangGraph's input
        {"messages": [[{"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "HumanMessage"], "kwargs": {"content": Q, "type": "human"}}]]},
        {"messages": [{"type": "human", "data": {"content": Q}}], "remaining_steps": 10},
        [{"content": Q, "role": "user"}, {"type": "function_call", "name": "get_weather", "arguments": "{}"}],  # Responses items
        {"args": [Q], "kwargs": {}},  # Traceloop's call-site form
        {"system": "Be brief.", "prompt": Q},  # Vercel AI SDK's ai.prompt
        {"question": Q},
        {"user_request": Q},  # a function of one text argument
    ],
)
def test_the_question_is_the_last_user_message_with_text(payload: Any):
    assert question(payload) == Q


@pytest.mark.parametrize(
    "payload",
    [
        A,
        [{"role": "assistant", "parts": [{"type": "text", "content": A}], "finish_reason": "stop"}],
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": A}}]},
        {"id": "resp_1", "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": A}]}]},
        {"generations": [[{"text": A, "message": {"lc": 1, "type": "constructor", "id": ["AIMessage"], "kwargs": {"content": A}}}]]},
        # LangGraph's final state: the human message first, the answer last, a tool call between.
        {"messages": [{"type": "human", "data": {"content": Q}}, {"type": "ai", "data": {"content": "", "tool_calls": [{}]}},
                      {"type": "tool", "data": {"content": "sunny"}}, {"type": "ai", "data": {"content": A}}]},
        [{"role": "user", "content": Q}, CALL, {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": A}],
        {"answer": A},
    ],
)
def test_the_answer_is_the_last_assistant_message_with_text(payload: Any):
    assert answer(payload) == A


@pytest.mark.parametrize(
    "payload",
    [
        [CALL],  # a tool call is no answer
        {"order": 42, "items": [1, 2]},
        "StopEvent(result=AgentOutput(response=ChatMessage(role=<MessageRole.ASSISTANT: 'assistant'>...",
        "   ",
        {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [{}]}}]},
    ],
)
def test_a_payload_without_an_answer_gives_no_text(payload: Any):
    assert answer(payload) is None


def _span(attributes: dict[str, Any], parent: str | None = None) -> SpanIn:
    span = SpanIn(trace_id="a" * 32, span_id="b" * 16, name="s", start_ns=1, parent_span_id=parent, attributes=attributes)
    normalize(span)
    return span


def test_a_model_span_gets_its_texts_from_genai_parts_not_their_json():
    messages = [{"role": "user", "parts": [{"type": "text", "content": Q}]}]
    out = [{"role": "assistant", "parts": [{"type": "text", "content": A}]}]
    span = _span({"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(messages),
                  "gen_ai.output.messages": json.dumps(out)}, parent="c" * 16)  # fmt: skip
    assert (span.request_text, span.response_text) == (Q, A)


def test_openinference_flattened_messages_give_the_texts_where_the_payload_is_a_repr():
    span = _span(
        {
            "openinference.span.kind": "LLM",
            "input.value": json.dumps({"messages": ["ChatMessage(role=<MessageRole.USER: 'user'>, ...)"]}),
            "input.mime_type": "application/json",
            "output.value": "assistant: " + A,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": Q,
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": A,
        },
        parent="c" * 16,
    )
    assert (span.request_text, span.response_text) == (Q, A)


def test_spans_that_are_neither_root_nor_model_call_get_no_texts():
    span = _span({"openinference.span.kind": "TOOL", "input.value": Q, "output.value": A}, parent="c" * 16)
    assert (span.request_text, span.response_text) == (None, None)
