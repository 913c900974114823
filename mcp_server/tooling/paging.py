"""What every tool answer shares: opaque page tokens, named limits, and size budgets.

A page token is base64url of a small JSON object: the tool that issued it, a hash of the
arguments it was issued for, and the tool's position state. A token shown to another tool, or to
the same tool with other arguments, is rejected with a message that says how to start again.
Tokens are not secret; each tool validates the state it reads back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from store.errors import InvalidArgument, InvalidPageToken
from store.json_text import dumps  # answers are serialized, and their budgets counted, in this form

Item = TypeVar("Item", bound=BaseModel)

ENVELOPE_RESERVE = 2_000
"""Characters kept free in a list answer's budget for its envelope (counts, notice, token)."""


def answer_chars(answer: BaseModel) -> int:
    """Characters of the answer's JSON, as the client receives it."""
    return len(dumps(answer.model_dump(mode="json")))


def item_chars(item: BaseModel) -> int:
    """Characters one list item adds to an answer's JSON (with its separating comma)."""
    return len(dumps(item.model_dump(mode="json"))) + 1


def check_range(name: str, value: int, low: int, high: int) -> int:
    """`value` when low <= value <= high, else InvalidArgument quoting the range."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an integer from {low:,} to {high:,}; got {value!r}.")
    return value


def fit(text: str, start: int, room: int) -> tuple[int, int]:
    """(end, size): the longest piece text[start:end] whose JSON string form (without quotes) has
    at most `room` characters, and that size. Escapes (\\" \\n \\u0001) make it shorter than room."""
    end = min(len(text), start + room)
    while end > start:
        size = len(dumps(text[start:end])) - 2
        if size <= room:
            return end, size
        end = start + max(1, (end - start) * room // size - 1)
    return start, 0


def clip(text: str, limit: int) -> str:
    """`text` whole when its JSON form (quotes aside) has at most `limit` characters; else cut to
    fit that, the cut marked with an ellipsis (counted in the limit). Counting the JSON form keeps
    a budget true for text full of quotes or control characters, which JSON escapes."""
    if len(text) <= limit and len(dumps(text)) - 2 <= limit:
        return text
    end, _ = fit(text, 0, limit - 1)
    return text[:end] + "…"


def clip_field(name: str, text: str | None, limit: int, notices: list[str]) -> str | None:
    """`clip(text, limit)` for a named answer field, adding a notice when it cut."""
    if text is None:
        return None
    shown = clip(text, limit)
    if shown != text:
        notices.append(f"{name} is cut to {limit:,} of its {len(text):,} characters.")
    return shown


class Page(Generic[Item]):
    """The items of one answer page: taken in order until `max_items` are taken or the next one
    would overspend `chars` (counted as item_chars). The first item is always taken, so a page is
    never empty while items remain; every item a tool lists is bounded, so that one fits too."""

    def __init__(self, chars: int, max_items: int) -> None:
        self.items: list[Item] = []
        self.room = chars
        self.max_items = max_items
        self.full = False

    def offer(self, item: Item) -> bool:
        """Take `item` if it fits; False (and the page is full) when it does not."""
        if self.full:
            return False
        size = item_chars(item)
        if size > self.room and self.items:
            self.full = True
            return False
        self.items.append(item)
        self.room -= size
        self.full = len(self.items) >= self.max_items
        return True


def next_page_notice(tool: str, what: str, first: int, last: int, total: int | None, token: str, note: str = "") -> str:
    """The notice of a page that has a next one: which items it shows and how to get the rest."""
    of = f" of {total:,}" if total is not None else ""
    return (
        f"showing {what} {first:,} to {last:,}{of}{note}; call {tool} again with the same arguments "
        f"and page_token='{token}' for the next {what}."
    )


def _arguments_hash(arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def issue_token(tool: str, arguments: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    """A page token for `tool`, valid only with these `arguments`, carrying `state`."""
    body = dumps({"tool": tool, "args": _arguments_hash(arguments), "state": dict(state)})
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def read_token(token: str | None, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """The state a token carries (None without a token); InvalidPageToken when `tool` did not issue
    it for these `arguments`."""
    if token is None or token == "":
        return None
    shown = token if len(token) <= 40 else token[:37] + "..."
    restart = f"call {tool} without page_token to start again."
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("state"), dict):
        raise InvalidPageToken(f"page_token {shown!r} is not a page token issued by {tool}; {restart}")
    if body.get("tool") != tool:
        raise InvalidPageToken(
            f"page_token {shown!r} was issued by {body.get('tool')!s}, not by {tool}; "
            f"pass it to the tool that returned it, or {restart}"
        )
    if body.get("args") != _arguments_hash(arguments):
        raise InvalidPageToken(
            f"page_token {shown!r} was issued by {tool} for other arguments; repeat the call that "
            f"returned it with the same arguments, or {restart}"
        )
    if not _storable(body["state"]):
        raise InvalidPageToken(f"page_token {shown!r} is damaged; {restart}")
    return body["state"]


def _storable(value: Any) -> bool:
    """Whether every number and string in `value` is one SQLite can bind and Python can compare:
    64-bit integers, finite floats, text without lone surrogates. A forged state can hold
    anything JSON (or Python's json, with NaN) can say; each tool then checks types and ranges."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
        elif isinstance(item, list):
            pending.extend(item)
        else:
            pending.extend(item)  # a dict's keys (strings)
            pending.extend(item.values())
    return True


def state_int(state: Mapping[str, Any], key: str, tool: str, *, high: int | None = None) -> int:
    """A non-negative integer from token state; InvalidPageToken if it is anything else."""
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (high is not None and value > high):
        raise InvalidPageToken(f"page_token is damaged ({key}={value!r}); call {tool} without page_token to start again.")
    return value
