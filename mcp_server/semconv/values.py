"""Reading attribute values the conventions define: counts, costs, ids, JSON text, flattened lists."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

MAX_TOKENS = 1_000_000_000
"""A count above this on one span is a bug in the sender, not usage; it is dropped to None."""
MAX_COST = 1_000_000.0

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
_NOT_JSON = object()


def to_json_text(value: Any) -> str:
    """JSON text for inputs_json/outputs_json (a plain string becomes a JSON string)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits, deep nesting
        return _dumps(value)


def parse_json(text: str) -> Any:
    """The value a JSON text holds, or _NOT_JSON. orjson first (several times faster on the hot
    path); the standard parser for what orjson refuses but JSON producers write (big integers)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def decode_json(value: Any) -> Any:
    """A string holding JSON, decoded once; anything else (or text that is not JSON) unchanged."""
    if not isinstance(value, str) or not value:
        return value
    decoded = parse_json(value)
    return value if decoded is _NOT_JSON else decoded


def is_json_text(value: str) -> bool:
    return parse_json(value) is not _NOT_JSON


def decode_json_container(value: Any) -> Any:
    """Like decode_json, but only for objects and arrays: a plain string stays a string."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        return decode_json(value)
    return value


def as_tokens(value: Any) -> int | None:
    """A token count as int (numbers, integral floats, digit strings); None if absent or absurd."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        count = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        count = int(value)
    elif isinstance(value, str) and 0 < len(value) <= 12:
        try:
            count = int(value.strip())
        except ValueError:
            return None
    else:
        return None
    return count if 0 <= count <= MAX_TOKENS else None


def as_cost(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= MAX_COST:
        return float(value)
    return None


def as_text(value: Any) -> str | None:
    """An identifier or name: non-empty strings as they are, integers as their digits."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_tag_value(value: Any) -> str:
    """Trace tags and metadata hold strings; other values are kept as their JSON text."""
    return value if isinstance(value, str) else to_json_text(value)


_NAMESPACES = frozenset({"message", "tool_call", "message_content", "document", "embedding", "tool", "prompt", "choice"})


def unflatten(attributes: dict[str, Any], prefix: str) -> tuple[Any, list[str]]:
    """Reassemble indexed, flattened attributes (`prefix.0.message.role`) into nested lists.

    OpenInference and the older GenAI conventions flatten lists of objects into dotted keys with
    numeric segments. Returns the rebuilt value and the keys it used; a key whose path conflicts
    with another (a value where an object is needed) is left out and stays in the attributes.
    OpenInference's per-item namespaces ({"message": {...}}) are unwrapped to the object inside.
    """
    start = prefix + "."
    cut = len(start)
    tree: dict[str, Any] = {}
    used: list[str] = []
    for key in attributes:
        if not key.startswith(start):
            continue
        parts = key[cut:].split(".")
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            if parts[-1] not in node:
                node[parts[-1]] = attributes[key]
                used.append(key)
    return _rebuild(tree), used


def _rebuild(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        items = [_rebuild(node[key]) for key in sorted(node, key=int)]
        return [_unwrap(item) for item in items]
    return {key: _rebuild(value) for key, value in node.items()}


def _unwrap(item: Any) -> Any:
    if isinstance(item, dict) and len(item) == 1:
        (key, inner), = item.items()
        if key in _NAMESPACES and isinstance(inner, dict):
            return inner
    return item
