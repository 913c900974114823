"""Traceloop / OpenLLMetry: traceloop.span.kind and entity input/output on workflow, task, agent
and tool spans; llm.request.type and llm.usage.total_tokens on its model spans (which otherwise
use the older gen_ai.* attributes); association properties as trace facts."""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.semconv.payloads import Attr
from mcp_server.ingest.semconv.trace_facts import route_property
from mcp_server.ingest.semconv.values import as_text
from store.incoming import SpanIn

KIND_KEY = "traceloop.span.kind"
_KINDS = {"workflow": "WORKFLOW", "task": "TASK", "agent": "AGENT", "tool": "TOOL"}
REQUEST_TYPE_KEY = "llm.request.type"
_REQUEST_TYPES = {"chat": "CHAT_MODEL", "completion": "LLM", "embedding": "EMBEDDING", "rerank": "RERANKER"}


def span_type(value: Any) -> str | None:
    return _KINDS.get(value.lower()) if isinstance(value, str) else None


def request_type(value: Any) -> str | None:
    return _REQUEST_TYPES.get(value.lower()) if isinstance(value, str) else None


JSON_KEYS = frozenset({"traceloop.entity.input", "traceloop.entity.output"})
INPUTS = (Attr("traceloop.entity.input"),)
OUTPUTS = (Attr("traceloop.entity.output"),)
TOTAL_TOKEN_KEYS = ("llm.usage.total_tokens",)

ASSOCIATION_PREFIX = "traceloop.association.properties."
_SESSION_NAMES = frozenset({"session_id", "sessionId", "session"})
_USER_NAMES = frozenset({"user_id", "userId", "user"})


def tool_name(span: SpanIn) -> str | None:
    attributes = span.attributes
    if attributes.get(KIND_KEY) == "tool":
        return as_text(attributes.get("traceloop.entity.name"))
    return None


def trace_fact(span: SpanIn, key: str, value: Any) -> None:
    """An association property: session and user ids go to the trace, the rest to metadata."""
    route_property(
        span,
        key[len(ASSOCIATION_PREFIX) :],
        value,
        session_names=_SESSION_NAMES,
        user_names=_USER_NAMES,
        ids_in_metadata=False,
    )
