"""Which value of a JSON text a character offset falls in, as a path like `[2].attributes.exception.message`.

Regex search scans the stored JSON text (no decoding per span); only for the matches it returns
does it ask here where they are. Containers on the way down are parsed once each, with the json
module's C scanner, and remembered, so many matches in one field cost one pass per level.
"""

from __future__ import annotations

import bisect
import json

_decoder = json.JSONDecoder()
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
_WHITESPACE = " \t\n\r"

# (label, where the member starts, where its value starts, where its value ends)
_Member = tuple[str, int, int, int]


class JsonLocator:
    """Maps character offsets in one JSON text to the path of the innermost member holding them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._containers: dict[int, tuple[list[int], list[_Member]]] = {}

    def path(self, offset: int) -> str:
        """'.key', '[3].key.sub' ... for the value (or key) at `offset`; '' for the top level."""
        parts: list[str] = []
        start = self._skip(0)
        while True:
            starts, members = self._members(start)
            index = bisect.bisect_right(starts, offset) - 1
            if index < 0:
                break
            label, member_start, value_start, value_end = members[index]
            if offset >= value_end:
                break
            parts.append(label)
            if offset < value_start:
                break  # inside the key itself
            start = value_start
        return "".join(parts)

    def _skip(self, i: int) -> int:
        text = self.text
        while i < len(text) and text[i] in _WHITESPACE:
            i += 1
        return i

    def _members(self, start: int) -> tuple[list[int], list[_Member]]:
        cached = self._containers.get(start)
        if cached is None:
            try:
                members = self._parse(start)
            except (ValueError, IndexError):
                members = []  # not valid JSON here: report the path found so far
            cached = ([member[1] for member in members], members)
            self._containers[start] = cached
        return cached

    def _parse(self, start: int) -> list[_Member]:
        text = self.text
        if start >= len(text) or text[start] not in "{[":
            return []
        is_object = text[start] == "{"
        close = "}" if is_object else "]"
        members: list[_Member] = []
        i = self._skip(start + 1)
        if text[i] == close:
            return members
        while True:
            member_start = i
            if is_object:
                key, i = _scanstring(text, i + 1)
                i = self._skip(i)
                i = self._skip(i + 1)  # the ':'
                label = f".{key}"
            else:
                label = f"[{len(members)}]"
            value_start = i
            _, i = _decoder.raw_decode(text, i)
            members.append((label, member_start, value_start, i))
            i = self._skip(i)
            if text[i] != ",":
                return members
            i = self._skip(i + 1)
