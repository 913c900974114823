"""The text a guardrail screens in OpenAI chat messages, and putting redacted text back.

A message's text lives in its `content` (a string, or a list of parts of which the
{"type": "text"} ones hold text), in tool-result parts ({"type": "tool_result", "content": str or
text parts}, as the Anthropic shape carries them), and in its tool calls' `function.arguments`
(JSON text). Each is a TextField named by its path in the message ('content',
'content[1].text', 'content[0].content[2].text', 'tool_calls[0].function.arguments'), with the
role it speaks for: a tool-result part speaks for the tool, whatever message holds it. Other
parts (images, audio, files) are neither screened nor touched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextField:
    """One piece of text of one message: where it is and whose words it carries."""

    message_index: int
    part: str
    role: str
    text: str


def text_fields(messages: list[dict[str, Any]]) -> Iterator[TextField]:
    """Every piece of text in `messages`, in order."""
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = str(message.get("role") or "user")
        yield from _content_fields(index, "content", role, message.get("content"))
        for k, call in enumerate(message.get("tool_calls") or []):
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            if isinstance(arguments, str) and arguments:
                yield TextField(index, f"tool_calls[{k}].function.arguments", role, arguments)


def _content_fields(index: int, path: str, role: str, content: Any) -> Iterator[TextField]:
    if isinstance(content, str):
        if content:
            yield TextField(index, path, role, content)
        return
    if not isinstance(content, list):
        return
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
            yield TextField(index, f"{path}[{i}].text", role, part["text"])
        elif kind == "tool_result":
            yield from _content_fields(index, f"{path}[{i}].content", "tool", part.get("content"))


def with_replaced(messages: list[dict[str, Any]], replacements: dict[tuple[int, str], str]) -> list[dict[str, Any]]:
    """A deep copy of `messages` with the text at each (message_index, part) replaced; `messages`
    itself is left as it was."""
    result = copy.deepcopy(messages)
    for (index, part), text in replacements.items():
        _set(result[index], part, text)
    return result


def _set(message: dict[str, Any], part: str, text: str) -> None:
    target: Any = message
    steps = _steps(part)
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = text


def _steps(part: str) -> list[str | int]:
    steps: list[str | int] = []
    for piece in part.split("."):
        name, _, rest = piece.partition("[")
        steps.append(name)
        while rest:
            number, _, rest = rest.partition("]")
            steps.append(int(number))
            rest = rest.removeprefix("[")
    return steps


def redact_text(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end) span replaced by its placeholder; spans do not overlap."""
    out, at = [], 0
    for start, end, placeholder in sorted(spans):
        out.append(text[at:start])
        out.append(placeholder)
        at = end
    out.append(text[at:])
    return "".join(out)


def redact_arguments(arguments: str, spans: list[tuple[int, int, str]],
                     redact_value: Callable[[str], str]) -> str:  # fmt: skip
    """Tool-call arguments with the spans redacted, still valid JSON when they were: a span that
    cut through JSON syntax (a quote, an escape) is redacted instead in the decoded strings, by
    `redact_value`, and the arguments encoded again."""
    redacted = redact_text(arguments, spans)
    try:
        decoded = json.loads(arguments)
    except ValueError:
        return redacted  # not JSON to begin with: text like any other
    try:
        json.loads(redacted)
        return redacted
    except ValueError:
        return json.dumps(_map_strings(decoded, redact_value), ensure_ascii=False)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value
