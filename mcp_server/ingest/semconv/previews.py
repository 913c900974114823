"""The user's question and the final answer as plain text, read from a span's payloads.

The store builds a trace's request and response previews from these (see store.ingest): the root
span's when it has them, else the first and the last model span's. What is read here: plain
text; chat messages in every form the instrumentations write (OpenAI chat and Responses items,
GenAI parts, OpenInference's flattened messages, LangChain's serialized messages and
`(role, text)` pairs, Vercel AI SDK content parts); the envelopes around them (a request's
`messages`, a completion's `choices`, a Responses object's `output`, LangChain's `generations`,
LangGraph's `{"messages": [...]}` state, a call's `{"args": [...], "kwargs": {...}}`); and a
function's single text argument or a result under a usual name (question, query, prompt,
answer, output ...). The question is the last user message with text, the answer the last
assistant message with text. A payload none of this recognizes gives no text (the store falls
back to its JSON).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mcp_server.ingest.semconv.values import load_json, unflatten
from store.incoming import SpanIn
from store.ingest import PREVIEW_TYPES

_ROLES = {
    "user": "user", "human": "user", "humanmessage": "user",
    "assistant": "assistant", "ai": "assistant", "model": "assistant", "aimessage": "assistant",
}  # fmt: skip
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_QUESTION_KEYS = ("messages", "input", "inputs", "question", "query", "prompt", "user_msg", "user_input", "message")
_ANSWER_KEYS = (
    "messages", "choices", "generations", "output", "outputs", "final_output", "final_result", "answer",
    "result", "response", "message",
)  # fmt: skip
_MAX_DEPTH = 8
"""Envelopes nest a few levels (a state holding messages holding parts); deeper is not a message."""

# How Python shows an object it cannot serialize (LlamaIndex's `StopEvent(result=...)`): not text
# a person wrote, so not a preview.
_REPR = re.compile(r"[A-Z]\w*\(.*(\)|\.\.\.)", re.DOTALL)

# OpenInference and the older GenAI conventions keep messages flattened beside the payload.
_FLAT_INPUTS = (("llm.input_messages", "llm.input_messages.0.message.role"), ("gen_ai.prompt", "gen_ai.prompt.0.role"))
_FLAT_OUTPUTS = (
    ("llm.output_messages", "llm.output_messages.0.message.role"),
    ("gen_ai.completion", "gen_ai.completion.0.role"),
)


def fill_texts(span: SpanIn, inputs: Any, outputs: Any) -> None:
    """Set span.request_text / response_text on a root or model span (the only ones the store
    reads them from). `inputs`/`outputs` are the payloads just taken, None to read the span's."""
    if span.parent_span_id is not None and span.span_type not in PREVIEW_TYPES:
        return
    if span.request_text is None:
        span.request_text = _from_flattened(span, _FLAT_INPUTS, question) or question(_payload(inputs, span.inputs_json))
    if span.response_text is None:
        span.response_text = _from_flattened(span, _FLAT_OUTPUTS, answer) or answer(_payload(outputs, span.outputs_json))


def question(value: Any) -> str | None:
    """The user's question in a request payload: its last user message with text."""
    return _read(value, "user", _QUESTION_KEYS, 0)


def answer(value: Any) -> str | None:
    """The answer in a result payload: its last assistant message with text."""
    return _read(value, "assistant", _ANSWER_KEYS, 0)


def _payload(value: Any, json_text: str | None) -> Any:
    if value is not None or json_text is None:
        return value
    try:
        return load_json(json_text)[0]
    except ValueError:
        return None


def _from_flattened(
    span: SpanIn, sources: tuple[tuple[str, str], ...], read: Callable[[Any], str | None]
) -> str | None:
    for prefix, probe in sources:
        if probe in span.attributes:
            messages, _ = unflatten(span.attributes, prefix)
            if (text := read(messages)) is not None:
                return text
    return None


def _read(value: Any, role: str, keys: tuple[str, ...], depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        return _plain(value)
    if isinstance(value, list):
        return _from_list(value, role, keys, depth)
    if not isinstance(value, dict):
        return None
    message = _message(value)
    if message is not None:
        return _content(message[1]) if message[0] == role else None
    if "kwargs" in value and {"args", "kwargs"}.issuperset(value):
        call = value.get("kwargs") or value.get("args")
        return _read(call, role, keys, depth + 1)
    for key in keys:
        if value.get(key) is not None and (text := _read(value[key], role, keys, depth + 1)) is not None:
            return text
    # A generation (LangChain) or a choice (OpenAI completions) holds its text beside the message.
    if isinstance(value.get("text"), str) and role == "assistant":
        return _plain(value["text"])
    texts = [v for v in value.values() if isinstance(v, str)]
    if len(value) == 1 and texts:
        # A function of one text argument, or a result of one text field.
        return _plain(texts[0])
    return None


def _from_list(items: list[Any], role: str, keys: tuple[str, ...], depth: int) -> str | None:
    messages = [m for m in map(_message, items) if m is not None]
    if messages:
        for found_role, content in reversed(messages):
            if found_role == role and (text := _content(content)) is not None:
                return text
        return None
    # LangChain batches: [[message, ...]] and [[generation, ...]]; a single result in a list.
    if len(items) == 1 and isinstance(items[0], str):
        return _plain(items[0])
    for item in reversed(items):
        if isinstance(item, list | dict) and (text := _read(item, role, keys, depth + 1)) is not None:
            return text
    return None


def _message(item: Any) -> tuple[str, Any] | None:
    """(user | assistant | another role, content) for an item in any message form, else None."""
    if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], str):
        return _ROLES.get(item[0].lower(), item[0]), item[1]
    if not isinstance(item, dict):
        return None
    if item.get("lc") == 1 and isinstance(item.get("kwargs"), dict):
        kwargs = item["kwargs"]
        ids = item.get("id")
        kind = kwargs.get("type") or (ids[-1] if isinstance(ids, list) and ids else "")
        return _role(kind), kwargs.get("content")
    if isinstance(item.get("data"), dict) and isinstance(item.get("type"), str):
        return _role(item["type"]), item["data"].get("content")
    if isinstance(item.get("role"), str):
        for field in ("content", "parts", "contents"):
            if item.get(field) is not None:
                return _role(item["role"]), item[field]
        return _role(item["role"]), None
    return None


def _role(name: Any) -> str:
    return _ROLES.get(name.lower(), name) if isinstance(name, str) else ""


def _content(content: Any) -> str | None:
    if isinstance(content, str):
        return _plain(content)
    if not isinstance(content, list):
        return None
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") in _TEXT_PARTS:
            text = part.get("text", part.get("content"))
            if isinstance(text, str):
                texts.append(text)
    return _plain("\n".join(texts))


def _plain(text: str) -> str | None:
    text = text.strip()
    if not text or _REPR.fullmatch(text):
        return None
    return text
