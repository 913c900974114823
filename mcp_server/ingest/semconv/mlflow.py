"""MLflow tracing attributes (mlflow/tracing/constant.py SpanAttributeKey).

MLflow stores every attribute value JSON-encoded, so a plain string arrives as "\"text\"". On
spans MLflow produced (they carry mlflow.spanType or mlflow.traceRequestId) every string value is
decoded once, exactly as MLflow's own Span.attributes does; a string that is not JSON (set on the
span by other code) stays as it is.
"""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.semconv.payloads import Attr
from mcp_server.ingest.semconv.values import as_cost, as_tag_value, as_text, as_tokens, decode_json, sum_of_costs
from store.incoming import SPAN_TYPES, SpanIn

SPAN_TYPE_KEY = "mlflow.spanType"
TAG_PREFIX = "mlflow.traceTag."
"""MLflow's OTLP export carries each trace tag as `mlflow.traceTag.<key>` with a plain string."""


_PAYLOADS = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs"})


def is_mlflow_span(attributes: dict[str, Any]) -> bool:
    return SPAN_TYPE_KEY in attributes or "mlflow.traceRequestId" in attributes


def decode_attributes(attributes: dict[str, Any]) -> None:
    """Undo MLflow's JSON encoding of attribute values, once, on spans MLflow produced (it always
    sets both markers). The payloads stay JSON text: they move to inputs/outputs as they are."""
    if not is_mlflow_span(attributes):
        return
    for key, value in attributes.items():
        if isinstance(value, str) and key not in _PAYLOADS and not key.startswith(TAG_PREFIX):
            attributes[key] = decode_json(value)


def span_type(value: Any) -> str | None:
    # MLflow allows custom type strings; those read as UNKNOWN (the attribute keeps the original).
    if isinstance(value, str) and value:
        upper = value.upper()
        return upper if upper in SPAN_TYPES else "UNKNOWN"
    return None


INPUTS = (Attr("mlflow.spanInputs"),)
OUTPUTS = (Attr("mlflow.spanOutputs"),)
MODEL_KEYS = ("mlflow.llm.model",)
SESSION_KEYS = ("mlflow.trace.session",)
USER_KEYS = ("mlflow.trace.user",)


def usage(span: SpanIn) -> None:
    """Token counts from mlflow.chat.tokenUsage and cost from mlflow.llm.cost, where not set yet."""
    attributes = span.attributes
    tokens = attributes.get("mlflow.chat.tokenUsage")
    if isinstance(tokens, dict):
        if span.input_tokens is None:
            span.input_tokens = as_tokens(tokens.get("input_tokens"))
        if span.output_tokens is None:
            span.output_tokens = as_tokens(tokens.get("output_tokens"))
        if span.total_tokens is None:
            span.total_tokens = as_tokens(tokens.get("total_tokens"))
    cost = attributes.get("mlflow.llm.cost")
    if isinstance(cost, dict) and span.cost is None:
        span.cost = as_cost(cost.get("total_cost"))
        if span.cost is None:
            span.cost = sum_of_costs(cost.get("input_cost"), cost.get("output_cost"))


def tool_name(span: SpanIn) -> str | None:
    """A TOOL span's tool is the traced function (mlflow.spanFunctionName), else the span's name."""
    if span.span_type != "TOOL" or not is_mlflow_span(span.attributes):
        return None
    return as_text(span.attributes.get("mlflow.spanFunctionName")) or span.name


def trace_fact(span: SpanIn, key: str, value: Any) -> None:
    span.trace_tags[key[len(TAG_PREFIX) :]] = as_tag_value(value)
