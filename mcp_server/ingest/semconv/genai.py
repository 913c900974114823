"""OpenTelemetry GenAI semantic conventions (gen-ai-spans.md, gen-ai-agent-spans.md, gen-ai-events.md).

Covers the current attributes (gen_ai.input.messages ...), the deprecated ones still emitted by
default by instrumentations on v1.36 or older (gen_ai.system, gen_ai.usage.prompt_tokens,
flattened gen_ai.prompt.N.* / gen_ai.completion.N.*), and content carried by span events: the
per-message events (gen_ai.user.message, gen_ai.choice ...), the older gen_ai.content.prompt /
gen_ai.content.completion events, and gen_ai.client.inference.operation.details.
"""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.semconv.payloads import Attr, Events, Flattened, as_is
from mcp_server.ingest.semconv.values import decode_json, decode_json_container

OPERATION_KEY = "gen_ai.operation.name"
_OPERATIONS = {
    "chat": "CHAT_MODEL",
    "generate_content": "CHAT_MODEL",
    "text_completion": "LLM",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "invoke_workflow": "WORKFLOW",
    "retrieval": "RETRIEVER",
}


def span_type(value: Any) -> str | None:
    return _OPERATIONS.get(value) if isinstance(value, str) else None


_PROVIDER_KEYS = ("gen_ai.system", "gen_ai.provider.name")
_MODEL_CALL_KEYS = (
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
)


def legacy_model_call(attributes: dict[str, Any]) -> str | None:
    """LLM for a model call as GenAI instrumentations before semconv 1.27 describe it: a provider
    (gen_ai.system) and a model or usage, but no gen_ai.operation.name. Asked only when no other
    rule types the span, so that such calls count in the trace's token totals."""
    if any(key in attributes for key in _PROVIDER_KEYS) and any(key in attributes for key in _MODEL_CALL_KEYS):
        return "LLM"
    return None


# The convention says these hold JSON ("any", recorded as a JSON string where structured
# attributes are not supported); a string value is decoded when it is an object or array.
JSON_KEYS = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.documents",
    }
)

MODEL_KEYS = ("gen_ai.response.model",)
REQUEST_MODEL_KEYS = ("gen_ai.request.model",)
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
TOTAL_TOKEN_KEYS = ("gen_ai.usage.total_tokens",)
SESSION_KEYS = ("gen_ai.conversation.id",)
# Not in the conventions: litellm's OTel callback sends its cost breakdown as gen_ai.cost.*, and
# OpenLIT and Langfuse a total as gen_ai.usage.cost.
COST_KEYS = ("gen_ai.cost.total_cost", "gen_ai.usage.cost")
COST_PARTS = ("gen_ai.cost.input_cost", "gen_ai.cost.output_cost")
TOOL_NAME_KEYS = ("gen_ai.tool.name",)

DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_ENVELOPE_KEYS = frozenset({"gen_ai.system", "gen_ai.provider.name", "event.name"})


def _event_body(event: dict[str, Any]) -> dict[str, Any]:
    # A log record made an event (store.logs) keeps its body: the message's fields, or its text.
    body = event.get("body")
    if isinstance(body, dict):
        return {k: decode_json_container(v) for k, v in body.items()}
    if isinstance(body, str) and body:
        return {"content": body}
    # Span-event forms of the (log) events: the body as JSON in gen_ai.event.content (Azure AI
    # Inference, Semantic Kernel), or the body's fields as attributes (role, content, tool_calls).
    attributes = event.get("attributes") or {}
    content = decode_json(attributes.get("gen_ai.event.content"))
    if isinstance(content, dict):
        return dict(content)
    return {k: decode_json_container(v) for k, v in attributes.items() if k not in _ENVELOPE_KEYS}


def _read_message_events(events: list[dict[str, Any]]) -> tuple[Any, list[str]] | None:
    messages, names = [], []
    for event in events:
        role = _MESSAGE_EVENTS.get(event.get("name"))  # type: ignore[arg-type]
        if role is not None:
            body = _event_body(event)
            body.setdefault("role", role)
            messages.append(body)
            names.append(event["name"])
    return (messages, names) if messages else None


def _read_choice_events(events: list[dict[str, Any]]) -> tuple[Any, list[str]] | None:
    choices = [_event_body(e) for e in events if e.get("name") == "gen_ai.choice"]
    return (choices, ["gen_ai.choice"]) if choices else None


def _content_event(event_name: str, key: str, *, per_item_bodies: bool = False) -> Events:
    # As a span event (OpenLLMetry), one event whose attribute `key` holds the whole payload. The
    # older content events as log records (litellm) are one per message or choice instead, with
    # it as their body: per_item_bodies reads those as the list of them.
    def read(events: list[dict[str, Any]]) -> tuple[Any, list[str]] | None:
        named = [event for event in events if event.get("name") == event_name]
        if per_item_bodies:
            bodies = [_event_body(event) for event in named if isinstance(event.get("body"), dict) and event["body"]]
            if bodies:
                return bodies, [event_name]
        for event in named:
            value = (event.get("attributes") or {}).get(key)
            if value is not None:
                return decode_json(value), [event_name]
        return None

    return Events(read)


INPUTS = (
    Attr("gen_ai.input.messages"),
    Attr("gen_ai.tool.call.arguments"),
    Attr("gen_ai.retrieval.query.text", as_is),
)
OUTPUTS = (
    Attr("gen_ai.output.messages"),
    Attr("gen_ai.tool.call.result"),
    Attr("gen_ai.retrieval.documents"),
)
FLAT_INPUTS = (Flattened("gen_ai.prompt", ("gen_ai.prompt.0.role", "gen_ai.prompt.0.content")),)
FLAT_OUTPUTS = (
    Flattened(
        "gen_ai.completion",
        (
            "gen_ai.completion.0.role",
            "gen_ai.completion.0.content",
            "gen_ai.completion.0.finish_reason",
            # litellm's tool-call turn: the call is all there is.
            "gen_ai.completion.0.function_call.name",
        ),
    ),
)
EVENT_INPUTS = (
    _content_event(DETAILS_EVENT, "gen_ai.input.messages"),
    Events(_read_message_events),
    _content_event("gen_ai.content.prompt", "gen_ai.prompt", per_item_bodies=True),
)
EVENT_OUTPUTS = (
    _content_event(DETAILS_EVENT, "gen_ai.output.messages"),
    Events(_read_choice_events),
    _content_event("gen_ai.content.completion", "gen_ai.completion", per_item_bodies=True),
)
