"""Reading attribute values the conventions define: counts, costs, ids, JSON text, flattened lists."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from store.json_text import dumps

MAX_TOKENS = 1_000_000_000
"""A count above this on one span is a bug in the sender, not usage; it is dropped to None."""
MAX_COST = 1_000_000.0

MAX_JSON_DEPTH = 200
"""JSON text in an attribute nested deeper than this stays text: decoding it would hand the store
a value its encoder cannot write back (it recurses once per level)."""


def nonfinite_text(number: float) -> str:
    """NaN and the infinities have no JSON form; they are kept as the text Python gives them
    ("nan", "inf", "-inf"), the same on every path (protobuf doubles, OTLP/JSON, JSON text)."""
    return str(number)


def _finite_or_text(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else nonfinite_text(number)


def load_json(data: bytes | str) -> tuple[Any, bool]:
    """The value a JSON text holds, and whether it was read exactly; ValueError if it is not JSON.

    The one JSON parse of ingestion (OTLP/JSON bodies, imported files, JSON text in attributes).
    orjson first: several times faster, and it accepts only strict JSON in valid Unicode, so what
    it reads may be stored as the text it came in (exact is True). What it refuses, the standard
    parser reads the way JSON producers write it: a UTF-16 or UTF-32 body, numbers beyond the
    double range, NaN and Infinity (both read as strings, see nonfinite_text, since the store can
    only keep valid JSON), and unpaired UTF-16 surrogates ("\\ud800"), which are kept: exact is
    then False, and the caller must refuse what has_unpaired_surrogate finds (SQLite cannot store
    them) and re-encode the value rather than keep the text.
    """
    try:
        return orjson.loads(data), True
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data, parse_constant=_finite_or_text, parse_float=_finite_or_text), False
    except RecursionError as exc:
        raise ValueError(f"JSON nested too deeply ({exc})") from exc
    # json.JSONDecodeError and UnicodeDecodeError are ValueErrors already.


def has_unpaired_surrogate(value: Any) -> bool:
    """Whether a string anywhere in value (keys included) holds a UTF-16 surrogate code point,
    which has no UTF-8 form: only the standard parser's output can hold one (see load_json)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def to_json_text(value: Any) -> str:
    """JSON text for inputs_json/outputs_json (a plain string becomes a JSON string)."""
    return dumps(value)


def parse_json(text: str) -> tuple[Any, bool] | None:
    """What an attribute's JSON text holds and whether the text is exact (see load_json), or None
    where it is not JSON the store can keep; such text stays the string it is, losing nothing."""
    try:
        value, exact = load_json(text)
    except ValueError:
        return None
    if not exact and has_unpaired_surrogate(value):
        return None
    # Counting brackets is a fast scan that rules out deep nesting for almost every text.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth_exceeds(value, MAX_JSON_DEPTH):
        return None
    return value, exact


def decode_json(value: Any) -> Any:
    """A string holding JSON, decoded once; anything else (or text that is not JSON) unchanged."""
    if not isinstance(value, str) or not value:
        return value
    parsed = parse_json(value)
    return value if parsed is None else parsed[0]


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


def sum_of_costs(*values: Any) -> float | None:
    """A cost reported only as its parts (input and output): their sum, None if none is usable."""
    parts = [cost for cost in map(as_cost, values) if cost is not None]
    return as_cost(sum(parts)) if parts else None


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
