"""OpenInference conventions, golden spans as openinference-instrumentation-* emits them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn


def _normalized(attributes: dict[str, Any]) -> SpanIn:
    span = SpanIn(trace_id="a" * 32, span_id="b" * 16, name="ChatCompletion", start_ns=1, attributes=attributes)
    normalize(span)
    return span


OUTPUT_VALUE = json.dumps({"tool_calls": [{"id": "call_Re47", "function": {"arguments": '{"a": 23, "b": 87}', "name": "multiply"}, "type": "function"}]})


def test_an_llm_span_with_input_value_and_flattened_messages_fills_every_field():
    span = _normalized(
        {
            "openinference.span.kind": "LLM",
            "llm.system": "openai",
            "llm.model_name": "gpt-3.5-turbo-0613",
            "llm.invocation_parameters": '{"model": "gpt-3.5-turbo-0613", "temperature": 0.1}',
            "input.value": '{"messages": [{"role": "user", "content": "what is 23 times 87"}]}',
            "input.mime_type": "application/json",
            "output.value": OUTPUT_VALUE,
            "output.mime_type": "application/json",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "You are a calculator.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": "what is 23 times 87",
            "llm.token_count.prompt": 229,
            "llm.token_count.completion": 21,
            "llm.token_count.total": 250,
            "llm.cost.total": 0.0066,
            "session.id": "sess-1",
            "user.id": "user-9",
            "metadata": '{"tenant": "acme", "tier": 2}',
            "tag.tags": ["shopping", "travel"],
        }
    )
    assert span.span_type == "LLM"
    assert span.model == "gpt-3.5-turbo-0613"
    assert (span.input_tokens, span.output_tokens, span.total_tokens, span.cost) == (229, 21, 250, 0.0066)
    assert json.loads(span.inputs_json) == {"messages": [{"role": "user", "content": "what is 23 times 87"}]}
    assert span.inputs_source == "input.value"
    assert json.loads(span.outputs_json) == json.loads(OUTPUT_VALUE)
    assert span.outputs_source == "output.value"
    assert (span.session_id, span.user_id) == ("sess-1", "user-9")
    # Span-level metadata: the store makes it the trace's on the root or where every span agrees.
    assert (span.span_metadata, span.trace_metadata) == ({"tenant": "acme", "tier": "2"}, {})
    assert span.trace_tags == {"shopping": "", "travel": ""}
    # input.value won, so the flattened messages stay as they came; JSON-valued ones are decoded.
    assert span.attributes["llm.input_messages.1.message.content"] == "what is 23 times 87"
    assert span.attributes["llm.invocation_parameters"] == {"model": "gpt-3.5-turbo-0613", "temperature": 0.1}
    assert span.attributes["metadata"] == {"tenant": "acme", "tier": 2}
    assert "input.value" not in span.attributes and "output.value" not in span.attributes


def test_flattened_messages_are_reassembled_when_input_value_is_absent():
    span = _normalized(
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "hello",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "multiply",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"a": 2}',
        }
    )
    assert span.inputs_source == "llm.input_messages"
    assert json.loads(span.inputs_json) == [{"role": "user", "content": "hello"}]
    assert span.outputs_source == "llm.output_messages"
    assert json.loads(span.outputs_json) == [
        {"role": "assistant", "tool_calls": [{"function": {"name": "multiply", "arguments": '{"a": 2}'}}]}
    ]
    assert span.attributes == {"openinference.span.kind": "LLM"}


def test_plain_text_input_value_stays_text_even_when_it_looks_like_json():
    span = _normalized({"openinference.span.kind": "CHAIN", "input.value": "[1, 2]", "output.value": "done"})
    assert json.loads(span.inputs_json) == "[1, 2]"
    assert json.loads(span.outputs_json) == "done"


def test_a_tool_span_names_its_tool_and_decodes_its_parameters():
    span = _normalized(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "multiply",
            "tool.description": "Multiply two numbers",
            "tool.parameters": '{"a": "int", "b": "int"}',
            "input.value": '{"a": 23, "b": 87}',
            "input.mime_type": "application/json",
            "output.value": "2001",
        }
    )
    assert (span.span_type, span.tool_name) == ("TOOL", "multiply")
    assert span.attributes["tool.parameters"] == {"a": "int", "b": "int"}
    assert json.loads(span.inputs_json) == {"a": 23, "b": 87}


def test_a_retriever_span_without_output_value_gets_its_documents():
    span = _normalized(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "what is tracing?",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.content": "Tracing records...",
            "retrieval.documents.0.document.score": 0.9,
            "retrieval.documents.1.document.id": "d2",
            "retrieval.documents.1.document.content": "Spans are...",
        }
    )
    assert span.span_type == "RETRIEVER"
    assert json.loads(span.outputs_json) == [
        {"id": "d1", "content": "Tracing records...", "score": 0.9},
        {"id": "d2", "content": "Spans are..."},
    ]
    assert span.outputs_source == "retrieval.documents"


@pytest.mark.parametrize(
    "kind", ["LLM", "CHAIN", "TOOL", "AGENT", "RETRIEVER", "EMBEDDING", "RERANKER", "GUARDRAIL", "EVALUATOR"]
)
def test_every_openinference_kind_is_a_span_type(kind):
    assert _normalized({"openinference.span.kind": kind}).span_type == kind


def test_embedding_spans_read_the_embedding_model_name():
    span = _normalized({"openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3-small"})
    assert (span.span_type, span.model) == ("EMBEDDING", "text-embedding-3-small")


def test_a_reranker_span_gives_its_query_and_documents_as_inputs_and_the_reranked_documents_as_outputs():
    span = _normalized(
        {
            "openinference.span.kind": "RERANKER",
            "reranker.model_name": "cross-encoder/ms-marco-MiniLM-L-12-v2",
            "reranker.query": "How to format timestamp?",
            "reranker.top_k": 1,
            "reranker.input_documents.0.document.id": "1",
            "reranker.input_documents.0.document.content": "Use strftime.",
            "reranker.input_documents.0.document.score": 0.2,
            "reranker.input_documents.1.document.id": "2",
            "reranker.input_documents.1.document.content": "Use isoformat.",
            "reranker.output_documents.0.document.id": "2",
            "reranker.output_documents.0.document.content": "Use isoformat.",
            "reranker.output_documents.0.document.score": 0.9,
        }
    )
    assert span.span_type == "RERANKER"
    assert span.model == "cross-encoder/ms-marco-MiniLM-L-12-v2"
    assert json.loads(span.inputs_json) == {
        "query": "How to format timestamp?",
        "documents": [{"id": "1", "content": "Use strftime.", "score": 0.2}, {"id": "2", "content": "Use isoformat."}],
    }
    assert span.inputs_source == "reranker.query,reranker.input_documents"
    assert json.loads(span.outputs_json) == [{"id": "2", "content": "Use isoformat.", "score": 0.9}]
    assert span.outputs_source == "reranker.output_documents"
    assert span.attributes == {"openinference.span.kind": "RERANKER", "reranker.model_name": "cross-encoder/ms-marco-MiniLM-L-12-v2", "reranker.top_k": 1}


def test_an_embedding_span_without_input_value_gives_its_texts_as_inputs_and_vectors_as_outputs():
    span = _normalized(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "embedding.embeddings.0.embedding.text": "hello",
            "embedding.embeddings.0.embedding.vector": [0.1, 0.2],
            "embedding.embeddings.1.embedding.text": "world",
            "embedding.embeddings.1.embedding.vector": [0.3, 0.4],
            "llm.token_count.prompt": 2,
            "llm.token_count.total": 2,
        }
    )
    assert (span.span_type, span.model, span.input_tokens, span.total_tokens) == ("EMBEDDING", "text-embedding-3-small", 2, 2)
    assert (json.loads(span.inputs_json), span.inputs_source) == (["hello", "world"], "embedding.embeddings")
    assert (json.loads(span.outputs_json), span.outputs_source) == ([[0.1, 0.2], [0.3, 0.4]], "embedding.embeddings")
    assert not any(key.startswith("embedding.embeddings") for key in span.attributes)


def test_an_embedding_span_with_input_and_output_values_keeps_its_embeddings_as_attributes():
    # The spec's example: input.value and output.value win, the flattened embeddings stay.
    span = _normalized(
        {
            "openinference.span.kind": "EMBEDDING",
            "input.value": '{"input": "hello world", "model": "text-embedding-3-small"}',
            "input.mime_type": "application/json",
            "output.value": '{"data": [{"embedding": [0.1, 0.2, 0.3], "index": 0}]}',
            "output.mime_type": "application/json",
            "embedding.embeddings.0.embedding.text": "hello world",
            "embedding.embeddings.0.embedding.vector": [0.1, 0.2, 0.3],
        }
    )
    assert (span.inputs_source, span.outputs_source) == ("input.value", "output.value")
    assert span.attributes["embedding.embeddings.0.embedding.text"] == "hello world"


def test_a_retriever_span_gives_its_documents_as_outputs():
    span = _normalized(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "where is the refund policy?",
            "retrieval.documents.0.document.id": "doc-7",
            "retrieval.documents.0.document.content": "Refunds within 30 days.",
            "retrieval.documents.0.document.score": 0.83,
        }
    )
    assert json.loads(span.outputs_json) == [{"id": "doc-7", "content": "Refunds within 30 days.", "score": 0.83}]
    assert span.outputs_source == "retrieval.documents"
