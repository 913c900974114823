"""What a writer hands the store: one span as the ingestion layer made it (SpanIn), and the span
types and status codes a span may carry. Its own module, below both the write path (ingest) and
the log events it carries (log_events), which each need it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPAN_TYPES = frozenset(
    {
        "AGENT", "LLM", "CHAT_MODEL", "TOOL", "RETRIEVER", "CHAIN", "EMBEDDING", "RERANKER",
        "GUARDRAIL", "EVALUATOR", "PARSER", "MEMORY", "WORKFLOW", "TASK", "UNKNOWN",
    }
)  # fmt: skip


STATUS_CODES = frozenset({"UNSET", "OK", "ERROR"})


@dataclass(slots=True)
class SpanIn:
    """One span as the ingestion layer hands it to the store: ids normalized, conventions applied.

    `inputs_json`/`outputs_json` are JSON text (already encoded once: a plain string input is a
    JSON string). `attributes` holds every attribute as it came, decoded, except a payload moved
    into inputs/outputs, whose attribute name is kept in `inputs_source`/`outputs_source`.
    """

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    parent_span_id: str | None = None
    end_ns: int | None = None
    span_type: str = "UNKNOWN"
    kind: str = "INTERNAL"
    status_code: str = "UNSET"
    status_message: str | None = None
    inputs_json: str | None = None
    outputs_json: str | None = None
    inputs_source: str | None = None
    outputs_source: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    tool_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)
    # Trace-level facts a span may carry (usually the root): first non-null wins for the ids,
    # tags are mutable (last write wins), metadata is immutable (first write wins).
    session_id: str | None = None
    user_id: str | None = None
    service_name: str | None = None
    trace_tags: dict[str, str] = field(default_factory=dict)
    trace_metadata: dict[str, str] = field(default_factory=dict)
    # Metadata a framework puts on each span (OpenInference's `metadata`): the trace's where the
    # span is the root, or where every span carrying such metadata gives the key one value.
    span_metadata: dict[str, str] = field(default_factory=dict)
    # The user's question and the final answer as plain text, where the payloads hold them (set
    # on roots and model spans by the conventions layer): the trace previews come from these.
    request_text: str | None = None
    response_text: str | None = None
