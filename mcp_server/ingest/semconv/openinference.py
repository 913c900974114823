"""OpenInference (Arize Phoenix) semantic conventions: openinference.span.kind, input/output.value,
llm.* model and token counts, flattened llm.input_messages.N.*, the payloads of retriever
(retrieval.documents), reranker (reranker.query and input/output documents) and embedding spans
(embedding.embeddings: texts in, vectors out), and the context attributes (session.id, user.id,
metadata, tag.tags) it propagates to every span of a trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_server.ingest.semconv.payloads import Attr, Flattened, FlattenedField, as_json
from mcp_server.ingest.semconv.values import as_tag_value, decode_json
from store.incoming import SpanIn

KIND_KEY = "openinference.span.kind"
_KINDS = {
    "LLM": "LLM",
    "CHAIN": "CHAIN",
    "TOOL": "TOOL",
    "AGENT": "AGENT",
    "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING",
    "RERANKER": "RERANKER",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
    # Rendering a prompt template is a step between model calls; CHAIN is the nearest store type
    # (the original kind stays in the attributes).
    "PROMPT": "CHAIN",
    "UNKNOWN": "UNKNOWN",
}


def span_type(value: Any) -> str | None:
    return _KINDS.get(value.upper()) if isinstance(value, str) else None


JSON_KEYS = frozenset(
    {
        "metadata",
        "llm.invocation_parameters",
        "llm.prompt_template.variables",
        "llm.function_call",
        "tool.parameters",
        "tool.json_schema",
        "embedding.invocation_parameters",
    }
)


def _by_mime_type(mime_key: str) -> Any:
    def decode(attributes: dict[str, Any], value: Any) -> Any:
        # input.value is text unless its mime type says JSON; text that looks like JSON stays text.
        return as_json(attributes, value) if attributes.get(mime_key) == "application/json" else value

    return decode


_RERANKER_QUERY = "reranker.query"


@dataclass(frozen=True, slots=True)
class _RerankerInputs:
    """A reranker's inputs: {"query": ..., "documents": [...]} from reranker.query and the
    flattened reranker.input_documents, whichever are present."""

    documents = Flattened(
        "reranker.input_documents",
        ("reranker.input_documents.0.document.content", "reranker.input_documents.0.document.id"),
    )

    def take(self, span: SpanIn) -> tuple[Any, str] | None:
        query = span.attributes.pop(_RERANKER_QUERY, None)
        documents = self.documents.take(span)
        if documents is None and query is None:
            return None
        names = [name for name, found in ((_RERANKER_QUERY, query), (self.documents.prefix, documents)) if found is not None]
        value = {"query": query, "documents": documents[0] if documents else []}
        return value, ",".join(names)


INPUTS = (Attr("input.value", _by_mime_type("input.mime_type")),)
OUTPUTS = (Attr("output.value", _by_mime_type("output.mime_type")),)
FLAT_INPUTS = (
    Flattened(
        "llm.input_messages",
        (
            "llm.input_messages.0.message.role",
            "llm.input_messages.0.message.content",
            "llm.input_messages.0.message.contents.0.message_content.type",
        ),
    ),
    _RerankerInputs(),
    # An embedding span's inputs are the texts it embedded; the vectors are its outputs.
    FlattenedField("embedding.embeddings", "embedding.text"),
)
FLAT_OUTPUTS = (
    Flattened(
        "llm.output_messages",
        (
            "llm.output_messages.0.message.role",
            "llm.output_messages.0.message.content",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
        ),
    ),
    Flattened(
        "retrieval.documents",
        ("retrieval.documents.0.document.content", "retrieval.documents.0.document.id"),
    ),
    Flattened(
        "reranker.output_documents",
        ("reranker.output_documents.0.document.content", "reranker.output_documents.0.document.id"),
    ),
    FlattenedField("embedding.embeddings", "embedding.vector"),
)

MODEL_KEYS = ("llm.model_name", "llm.response.model_name", "embedding.model_name", "reranker.model_name")
REQUEST_MODEL_KEYS = ("llm.request.model_name",)
INPUT_TOKEN_KEYS = ("llm.token_count.prompt",)
OUTPUT_TOKEN_KEYS = ("llm.token_count.completion",)
TOTAL_TOKEN_KEYS = ("llm.token_count.total",)
COST_KEYS = ("llm.cost.total",)
COST_PARTS = ("llm.cost.prompt", "llm.cost.completion")
SESSION_KEYS = ("session.id",)
USER_KEYS = ("user.id",)
TOOL_NAME_KEYS = ("tool.name",)


def trace_facts(span: SpanIn) -> None:
    """metadata (a JSON object) is span-level metadata, which the store makes the trace's where
    the span is the root or every span agrees (LangGraph puts each node's langgraph_node and
    langgraph_step there); tag.tags (a list) becomes trace tags."""
    attributes = span.attributes
    metadata = attributes.get("metadata")
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            span.span_metadata.setdefault(str(key), as_tag_value(value))
    tags = attributes.get("tag.tags")
    if isinstance(tags, str):
        tags = decode_json(tags)
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag:
                span.trace_tags.setdefault(tag, "")
