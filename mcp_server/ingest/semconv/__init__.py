"""Semantic conventions: filling a SpanIn's typed fields from the attributes instrumentations emit.

Dialects, one module each: OpenTelemetry GenAI (`genai`), OpenInference (`openinference`),
MLflow (`mlflow`), Vercel AI SDK (`vercel`), Traceloop/OpenLLMetry (`traceloop`), pydantic-ai's
agent span (`pydantic_ai`). Where several appear on one span the tables below decide, in order:

- span type: an explicit kind attribute (mlflow.spanType, openinference.span.kind,
  traceloop.span.kind), then gen_ai.operation.name, then Traceloop's llm.request.type, then
  ai.operationId, then (pre-1.27 GenAI) gen_ai.system or gen_ai.provider.name with a model or
  usage, which is an LLM call; a span with none of them stays UNKNOWN.
- inputs/outputs: the richest explicit payload first (a framework's whole request or result),
  then message attributes, then flattened message lists, then span events; a source without
  content yields to a later one that has some. See payloads.py for how a payload moves out of
  the attributes; a TOOL span's arguments in call-site form (`{"args": [], "kwargs": {...}}`) are
  shown unwrapped.
- model, tokens, cost, tool, session and user: the first attribute present with a usable value
  (a cost given only as its input and output parts: their sum).
- the question and the answer as text, on roots and model spans, for the trace previews
  (previews.py).
Every attribute not moved into inputs/outputs stays in `attributes`, decoded where its
convention says the value is JSON; nothing is invented for spans that carry none of these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp_server.ingest.semconv import genai, mlflow, openinference, pydantic_ai, traceloop, vercel
from mcp_server.ingest.semconv.payloads import EVENT_SOURCE_PREFIX, fill_payloads, refill_empty, unwrap_call_site
from mcp_server.ingest.semconv.previews import fill_texts
from mcp_server.ingest.semconv.values import as_cost, as_text, as_tokens, decode_json_container, sum_of_costs
from store.incoming import SpanIn
from store.log_events import add_events

SPAN_TYPE_RULES: tuple[tuple[str, Callable[[Any], str | None]], ...] = (
    (mlflow.SPAN_TYPE_KEY, mlflow.span_type),
    (openinference.KIND_KEY, openinference.span_type),
    (traceloop.KIND_KEY, traceloop.span_type),
    (genai.OPERATION_KEY, genai.span_type),
    (traceloop.REQUEST_TYPE_KEY, traceloop.request_type),
    (vercel.OPERATION_KEY, vercel.span_type),
)

INPUTS = (
    *mlflow.INPUTS,
    *openinference.INPUTS,
    *traceloop.INPUTS,
    *genai.INPUTS,
    *vercel.INPUTS,
    *openinference.FLAT_INPUTS,
    *genai.FLAT_INPUTS,
    *genai.EVENT_INPUTS,
    *pydantic_ai.INPUTS,
)
OUTPUTS = (
    *mlflow.OUTPUTS,
    *openinference.OUTPUTS,
    *traceloop.OUTPUTS,
    *genai.OUTPUTS,
    *vercel.OUTPUTS,
    *openinference.FLAT_OUTPUTS,
    *genai.FLAT_OUTPUTS,
    *genai.EVENT_OUTPUTS,
    *pydantic_ai.OUTPUTS,
)

JSON_KEYS = genai.JSON_KEYS | openinference.JSON_KEYS | traceloop.JSON_KEYS | vercel.JSON_KEYS | pydantic_ai.JSON_KEYS
# The model that answered, in any dialect, before the model that was asked for.
MODEL_KEYS = (
    *mlflow.MODEL_KEYS,
    *openinference.MODEL_KEYS,
    *genai.MODEL_KEYS,
    *vercel.MODEL_KEYS,
    *openinference.REQUEST_MODEL_KEYS,
    *genai.REQUEST_MODEL_KEYS,
    *vercel.REQUEST_MODEL_KEYS,
)
INPUT_TOKEN_KEYS = (
    *openinference.INPUT_TOKEN_KEYS, *genai.INPUT_TOKEN_KEYS, *vercel.INPUT_TOKEN_KEYS, *pydantic_ai.INPUT_TOKEN_KEYS,
)  # fmt: skip
OUTPUT_TOKEN_KEYS = (
    *openinference.OUTPUT_TOKEN_KEYS, *genai.OUTPUT_TOKEN_KEYS, *vercel.OUTPUT_TOKEN_KEYS, *pydantic_ai.OUTPUT_TOKEN_KEYS,
)  # fmt: skip
TOTAL_TOKEN_KEYS = (
    *openinference.TOTAL_TOKEN_KEYS,
    *traceloop.TOTAL_TOKEN_KEYS,
    *genai.TOTAL_TOKEN_KEYS,
    *vercel.TOTAL_TOKEN_KEYS,
)
COST_KEYS = (*openinference.COST_KEYS, *genai.COST_KEYS, *pydantic_ai.COST_KEYS)
COST_PARTS = (openinference.COST_PARTS, genai.COST_PARTS)
_COST_PART_KEYS = frozenset(key for parts in COST_PARTS for key in parts)
TOOL_NAME_KEYS = (*genai.TOOL_NAME_KEYS, *openinference.TOOL_NAME_KEYS, *vercel.TOOL_NAME_KEYS)
SESSION_KEYS = (*mlflow.SESSION_KEYS, *openinference.SESSION_KEYS, *genai.SESSION_KEYS)
USER_KEYS = (*mlflow.USER_KEYS, *openinference.USER_KEYS, "enduser.id")

_PREFIXED_FACTS: dict[str, Callable[[SpanIn, str, Any], None]] = {
    mlflow.TAG_PREFIX: mlflow.trace_fact,
    traceloop.ASSOCIATION_PREFIX: traceloop.trace_fact,
    vercel.METADATA_PREFIX: vercel.trace_fact,
}
_FACT_PREFIXES = tuple(_PREFIXED_FACTS)
# Spans of the dialects that carry prefixed trace facts always have one of these; checking them
# spares every other span a scan of all its attribute names.
_FACT_MARKERS = frozenset(
    {
        mlflow.SPAN_TYPE_KEY,
        "mlflow.traceRequestId",
        traceloop.KIND_KEY,
        traceloop.REQUEST_TYPE_KEY,
        "traceloop.entity.name",
        "traceloop.workflow.name",
        vercel.OPERATION_KEY,
    }
)


def normalize(span: SpanIn) -> None:
    """Fill span_type, inputs/outputs (+ sources), model, tokens, cost, tool, session, user, tags
    and metadata from the span's attributes and events, in place; fields already set are kept."""
    attributes = span.attributes
    mlflow.decode_attributes(attributes)
    inputs, outputs = fill_payloads(span, INPUTS, OUTPUTS)
    if attributes:
        # What stays in the attributes is decoded where its convention says the value is JSON.
        for key in JSON_KEYS.intersection(attributes):
            attributes[key] = decode_json_container(attributes[key])
        vercel.decode_tools(attributes)
        if span.span_type == "UNKNOWN":
            span.span_type = _span_type(attributes)
        _fill_scalars(span, attributes)
    if span.span_type == "TOOL":
        unwrap_call_site(span, inputs)
    fill_texts(span, inputs, outputs)


def _span_type(attributes: dict[str, Any]) -> str:
    for key, read in SPAN_TYPE_RULES:
        value = attributes.get(key)
        if value is not None:
            found = read(value)
            if found is not None:
                return found
    return genai.legacy_model_call(attributes) or "UNKNOWN"


def _first(attributes: dict[str, Any], keys: tuple[str, ...], read: Callable[[Any], Any]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            found = read(value)
            if found is not None:
                return found
    return None


def _fill_scalars(span: SpanIn, attributes: dict[str, Any]) -> None:
    mlflow.usage(span)
    if span.model is None:
        span.model = _first(attributes, MODEL_KEYS, as_text)
    if span.input_tokens is None:
        span.input_tokens = _first(attributes, INPUT_TOKEN_KEYS, as_tokens)
    if span.output_tokens is None:
        span.output_tokens = _first(attributes, OUTPUT_TOKEN_KEYS, as_tokens)
    if span.total_tokens is None:
        span.total_tokens = _first(attributes, TOTAL_TOKEN_KEYS, as_tokens)
        # Most conventions report only the two parts; the trace total needs the sum.
        if span.total_tokens is None and span.input_tokens is not None and span.output_tokens is not None:
            span.total_tokens = span.input_tokens + span.output_tokens
    if span.cost is None:
        span.cost = _first(attributes, COST_KEYS, as_cost)
        if span.cost is None and not _COST_PART_KEYS.isdisjoint(attributes):
            span.cost = next(
                (cost for parts in COST_PARTS if (cost := sum_of_costs(*map(attributes.get, parts))) is not None), None
            )
    if span.tool_name is None:
        span.tool_name = (
            _first(attributes, TOOL_NAME_KEYS, as_text) or traceloop.tool_name(span) or mlflow.tool_name(span)
        )
    if span.session_id is None:
        span.session_id = _first(attributes, SESSION_KEYS, as_text)
    if span.user_id is None:
        span.user_id = _first(attributes, USER_KEYS, as_text)
    openinference.trace_facts(span)
    if _FACT_MARKERS.isdisjoint(attributes):
        return
    for key, value in attributes.items():
        if key.startswith(_FACT_PREFIXES):
            for prefix, apply in _PREFIXED_FACTS.items():
                if key.startswith(prefix):
                    apply(span, key, value)
                    break


def attach_events(span: SpanIn, events: list[dict[str, Any]]) -> bool:
    """Add to a normalized span the events it lacks (log records that name it: store.logs), in
    time order, and take its inputs and outputs again where events were (or, absent any other
    source, may now be) their source; returns whether the span changed."""
    if not add_events(span, events):
        return False
    if span.inputs_source is not None and span.inputs_source.startswith(EVENT_SOURCE_PREFIX):
        span.inputs_json = span.inputs_source = None
    if span.outputs_source is not None and span.outputs_source.startswith(EVENT_SOURCE_PREFIX):
        span.outputs_json = span.outputs_source = None
    fill_payloads(span, INPUTS, OUTPUTS)
    # A payload without content was taken only because no source had any (payloads.py): the
    # events may have brought some (litellm's empty gen_ai.*.messages beside its log records).
    refill_empty(span, "inputs", genai.EVENT_INPUTS)
    refill_empty(span, "outputs", genai.EVENT_OUTPUTS)
    # The question and answer are read from the payloads, which the events may just have given.
    span.request_text = span.response_text = None
    fill_texts(span, None, None)
    return True
