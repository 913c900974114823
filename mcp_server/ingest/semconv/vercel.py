"""Vercel AI SDK telemetry (ai.*): ai.generateText and friends wrap one or more provider calls
(ai.generateText.doGenerate ...) and tool calls (ai.toolCall). Both levels report usage; only the
inner call is typed as a model span, so the store counts its tokens once."""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.semconv.payloads import Attr, as_is
from mcp_server.ingest.semconv.trace_facts import route_property
from mcp_server.ingest.semconv.values import decode_json
from store.incoming import SpanIn

OPERATION_KEY = "ai.operationId"
_OPERATIONS = {
    # The outer calls run the tool loop (several model calls and tool calls): an agent.
    "ai.generateText": "AGENT",
    "ai.streamText": "AGENT",
    "ai.generateObject": "CHAIN",
    "ai.streamObject": "CHAIN",
    "ai.embed": "CHAIN",
    "ai.embedMany": "CHAIN",
    "ai.generateText.doGenerate": "LLM",
    "ai.streamText.doStream": "LLM",
    "ai.generateObject.doGenerate": "LLM",
    "ai.streamObject.doStream": "LLM",
    "ai.embed.doEmbed": "EMBEDDING",
    "ai.embedMany.doEmbed": "EMBEDDING",
    "ai.toolCall": "TOOL",
}


def span_type(value: Any) -> str | None:
    return _OPERATIONS.get(value) if isinstance(value, str) else None


JSON_KEYS = frozenset({"ai.response.toolCalls", "ai.response.providerMetadata", "ai.toolCall.args"})

INPUTS = (
    Attr("ai.prompt.messages"),
    Attr("ai.prompt"),
    Attr("ai.toolCall.args"),
    Attr("ai.value"),
    Attr("ai.values"),
)
OUTPUTS = (
    Attr("ai.response.object"),
    Attr("ai.response.text", as_is),
    Attr("ai.response.toolCalls"),
    Attr("ai.toolCall.result"),
)
MODEL_KEYS = ("ai.response.model",)
REQUEST_MODEL_KEYS = ("ai.model.id",)
INPUT_TOKEN_KEYS = ("ai.usage.inputTokens", "ai.usage.promptTokens")
OUTPUT_TOKEN_KEYS = ("ai.usage.outputTokens", "ai.usage.completionTokens")
TOTAL_TOKEN_KEYS = ("ai.usage.totalTokens",)
TOOL_NAME_KEYS = ("ai.toolCall.name",)

METADATA_PREFIX = "ai.telemetry.metadata."
_SESSION_NAMES = frozenset({"sessionId", "session_id"})
_USER_NAMES = frozenset({"userId", "user_id"})


def decode_tools(attributes: dict[str, Any]) -> None:
    """ai.prompt.tools is a list of JSON strings, one tool definition each."""
    tools = attributes.get("ai.prompt.tools")
    if isinstance(tools, list):
        attributes["ai.prompt.tools"] = [decode_json(tool) for tool in tools]


def trace_fact(span: SpanIn, key: str, value: Any) -> None:
    """experimental_telemetry.metadata: trace metadata; sessionId and userId also name the trace's."""
    route_property(
        span,
        key[len(METADATA_PREFIX) :],
        value,
        session_names=_SESSION_NAMES,
        user_names=_USER_NAMES,
        ids_in_metadata=True,
    )
