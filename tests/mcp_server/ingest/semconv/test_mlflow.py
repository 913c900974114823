"""MLflow span attributes as MLflow's OTLP export sends them: every value JSON-encoded."""

from __future__ import annotations

import json
from typing import Any

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn


def J(value: Any) -> str:
    """How MLflow encodes attribute values (dump_span_attribute_value)."""
    return json.dumps(value, ensure_ascii=False)


def _normalized(attributes: dict[str, Any]) -> SpanIn:
    span = SpanIn(trace_id="a" * 32, span_id="b" * 16, name="Completions", start_ns=1, attributes=attributes)
    normalize(span)
    return span


def test_an_mlflow_chat_model_span_is_decoded_once_and_fills_every_field():
    inputs = {"messages": [{"role": "user", "content": "Hi"}], "model": "gpt-4o-mini"}
    outputs = {"choices": [{"message": {"role": "assistant", "content": "Hello"}}]}
    span = _normalized(
        {
            "mlflow.traceRequestId": J("tr-" + "a" * 32),
            "mlflow.spanType": J("CHAT_MODEL"),
            "mlflow.spanInputs": J(inputs),
            "mlflow.spanOutputs": J(outputs),
            "mlflow.chat.tokenUsage": J({"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}),
            "mlflow.llm.model": J("gpt-4o-mini"),
            "mlflow.llm.cost": J({"input_cost": 0.001, "output_cost": 0.002, "total_cost": 0.003}),
            "mlflow.message.format": J("openai"),
            "temperature": J(0.2),
            "note": J("plain text"),
            "set.by.other.code": "not json",
            "user.id": J("alice"),
            "session.id": J("s-7"),
            "mlflow.traceTag.env": "prod",
        }
    )
    assert span.span_type == "CHAT_MODEL"
    assert json.loads(span.inputs_json) == inputs and span.inputs_source == "mlflow.spanInputs"
    assert json.loads(span.outputs_json) == outputs and span.outputs_source == "mlflow.spanOutputs"
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (10, 3, 13)
    assert (span.model, span.cost) == ("gpt-4o-mini", 0.003)
    assert (span.user_id, span.session_id) == ("alice", "s-7")
    assert span.trace_tags == {"env": "prod"}
    assert span.attributes == {
        "mlflow.traceRequestId": "tr-" + "a" * 32,
        "mlflow.spanType": "CHAT_MODEL",
        "mlflow.chat.tokenUsage": {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        "mlflow.llm.model": "gpt-4o-mini",
        "mlflow.llm.cost": {"input_cost": 0.001, "output_cost": 0.002, "total_cost": 0.003},
        "mlflow.message.format": "openai",
        "temperature": 0.2,
        "note": "plain text",
        "set.by.other.code": "not json",
        "user.id": "alice",
        "session.id": "s-7",
        "mlflow.traceTag.env": "prod",
    }


def test_a_plain_string_output_is_stored_as_a_json_string_not_double_encoded():
    span = _normalized(
        {"mlflow.traceRequestId": J("tr-x"), "mlflow.spanType": J("TOOL"), "mlflow.spanOutputs": J("rainy, 57°F")}
    )
    assert span.outputs_json == '"rainy, 57°F"'
    assert json.loads(span.outputs_json) == "rainy, 57°F"


def test_custom_mlflow_span_types_read_as_unknown_and_keep_the_attribute():
    span = _normalized({"mlflow.traceRequestId": J("tr-x"), "mlflow.spanType": J("MY_STEP")})
    assert span.span_type == "UNKNOWN"
    assert span.attributes["mlflow.spanType"] == "MY_STEP"


def test_session_and_user_attributes_in_mlflow_form_are_read():
    span = _normalized(
        {"mlflow.traceRequestId": J("tr-x"), "mlflow.spanType": J("AGENT"), "mlflow.trace.session": J("sess"), "mlflow.trace.user": J("bob")}
    )
    assert (span.session_id, span.user_id) == ("sess", "bob")


def test_a_tool_span_is_named_by_its_traced_function_or_else_by_the_span():
    tool = {"mlflow.traceRequestId": J("tr-" + "a" * 32), "mlflow.spanType": J("TOOL"), "mlflow.spanInputs": J({"city": "Paris"})}
    assert _normalized({**tool, "mlflow.spanFunctionName": J("get_weather")}).tool_name == "get_weather"
    assert _normalized(dict(tool)).tool_name == "Completions"  # the span's name
    chat = {**tool, "mlflow.spanType": J("CHAT_MODEL"), "mlflow.spanFunctionName": J("create")}
    assert _normalized(chat).tool_name is None
