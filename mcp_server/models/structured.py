"""Structured output: asking for JSON that matches a schema, and reading it back robustly.

Where litellm knows the provider enforces a JSON schema (`supports_response_schema`), the schema
goes in `response_format`. Elsewhere (a local server, an unknown model) the schema goes in the
system prompt and the answer is parsed leniently: the whole text, then fenced code blocks, then
the first JSON object anywhere in the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

StructuredMode = Literal["auto", "response_format", "prompt"]

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


def response_format(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    """OpenAI's `response_format` for a JSON schema (litellm translates it for other providers)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema)}}


def schema_instructions(schema: Mapping[str, Any]) -> str:
    return (
        "Answer with exactly one JSON object that matches this JSON Schema, and nothing else: "
        "no prose before or after it.\n"
        f"JSON Schema:\n{json.dumps(schema, indent=2, sort_keys=True)}"
    )


def with_schema_instructions(
    messages: Sequence[Mapping[str, Any]], schema: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The messages with the schema instructions added to the system prompt.

    Added to the first system message (or as a new first one), never after the conversation:
    several chat templates of local models reject a system message anywhere but first.
    """
    instructions = schema_instructions(schema)
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0]["content"] = f"{out[0]['content']}\n\n{instructions}"
    else:
        out.insert(0, {"role": "system", "content": instructions})
    return out


def extract_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer.

    Tries the whole text, then each fenced code block, then the first `{` from which a whole
    JSON object decodes. Raises ValueError saying what was found instead.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("the answer is empty")
    candidates = [stripped, *(m.group(1).strip() for m in _FENCE.finditer(stripped))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    value = _first_top_level_object(stripped)
    if value is not None:
        return value
    if "{" in stripped:
        raise ValueError("the answer has a '{' but no complete JSON object")
    raise ValueError("the answer holds no JSON object")


def _first_top_level_object(text: str) -> dict[str, Any] | None:
    """The first object that decodes from a `{` outside any earlier `{...}`.

    A broken outer object is skipped whole (its braces counted, strings respected), so a nested
    fragment of it is never returned as if it were the answer.
    """
    decoder = json.JSONDecoder()
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(text):
        if depth == 0:
            if ch == "{":
                try:
                    value, _ = decoder.raw_decode(text, i)
                except ValueError:
                    value = None
                if isinstance(value, dict):
                    return value
                depth = 1
        elif in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
    return None
