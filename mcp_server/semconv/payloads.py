"""Where a span's inputs and outputs can come from, and moving the first one found into place.

A source is an attribute, a family of flattened attributes, or span events. Taking a payload from
attributes removes them (the store keeps nothing twice; `inputs_source`/`outputs_source` name
where it came from, so the tools can give it back under that name). Payloads read from events
leave the events as they are: an event also carries its time and other attributes.

Source names: an attribute key (`gen_ai.input.messages`), a flattened prefix whose indexed keys
were reassembled into a list (`llm.input_messages`), or `event:` and the event names read
(`event:gen_ai.system.message,gen_ai.user.message`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mcp_server.semconv.values import parse_json, to_json_text, unflatten
from store.ingest import SpanIn

Decode = Callable[[dict[str, Any], Any], Any]
EVENT_SOURCE_PREFIX = "event:"
"""How inputs_source/outputs_source begin for a payload assembled from span events."""


@dataclass(frozen=True, slots=True)
class JsonText:
    """A payload that arrived as JSON text: stored as that text, not decoded and encoded again."""

    text: str


def as_json(attributes: dict[str, Any], value: Any) -> Any:
    """The convention says the value is JSON: a string holding JSON is kept as that JSON text
    (it is the decoded value's encoding) where it was read exactly, else as the value it holds,
    to be encoded again (NaN read as text); other strings are plain text."""
    if isinstance(value, str) and (parsed := parse_json(value)) is not None:
        decoded, exact = parsed
        return JsonText(value) if exact else decoded
    return value


def as_is(attributes: dict[str, Any], value: Any) -> Any:
    """Plain text or an already structured value: taken as it came."""
    return value


class Source(Protocol):
    def take(self, span: SpanIn) -> tuple[Any, str] | None: ...


@dataclass(frozen=True, slots=True)
class Attr:
    key: str
    decode: Decode = as_json

    def take(self, span: SpanIn) -> tuple[Any, str] | None:
        attributes = span.attributes
        value = attributes.get(self.key)
        if value is None or value == "":
            return None
        del attributes[self.key]
        return self.decode(attributes, value), self.key


@dataclass(frozen=True, slots=True)
class Flattened:
    """Indexed attributes such as `llm.input_messages.0.message.role`; probes are cheap presence checks."""

    prefix: str
    probes: tuple[str, ...]

    def take(self, span: SpanIn) -> tuple[Any, str] | None:
        attributes = span.attributes
        if not any(probe in attributes for probe in self.probes):
            return None
        value, used = unflatten(attributes, self.prefix)
        if not isinstance(value, list) or not value:
            return None
        for key in used:
            del attributes[key]
        return value, self.prefix


@dataclass(frozen=True, slots=True)
class FlattenedField:
    """One field of every item of a flattened list, as a list in index order: the texts of
    `embedding.embeddings.N.embedding.text`. The items' other fields stay for another source."""

    prefix: str
    field: str

    def take(self, span: SpanIn) -> tuple[Any, str] | None:
        attributes = span.attributes
        if f"{self.prefix}.0.{self.field}" not in attributes:
            return None
        start, end = self.prefix + ".", "." + self.field
        keys: dict[int, str] = {}
        for key in attributes:
            if key.startswith(start) and key.endswith(end):
                index = key[len(start) : -len(end)]
                if index.isascii() and index.isdigit():
                    keys[int(index)] = key
        return [attributes.pop(keys[i]) for i in sorted(keys)], self.prefix


@dataclass(frozen=True, slots=True)
class Events:
    """A payload assembled from span events by `read`, which returns it and the event names used."""

    read: Callable[[list[dict[str, Any]]], tuple[Any, list[str]] | None]

    def take(self, span: SpanIn) -> tuple[Any, str] | None:
        if not span.events:
            return None
        found = self.read(span.events)
        if found is None:
            return None
        value, names = found
        return value, EVENT_SOURCE_PREFIX + ",".join(dict.fromkeys(names))


def _text(value: Any) -> str:
    return value.text if isinstance(value, JsonText) else to_json_text(value)


def _first_found(span: SpanIn, sources: Sequence[Source]) -> tuple[Any, str] | None:
    attributes = span.attributes
    for source in sources:
        # Most sources are single attributes: a dict lookup rules them out without a call.
        if isinstance(source, Attr) and source.key not in attributes:
            continue
        found = source.take(span)
        if found is not None:
            return found
    return None


def fill_payloads(span: SpanIn, inputs: Sequence[Source], outputs: Sequence[Source]) -> None:
    """Set inputs_json/outputs_json from the first source present, unless already set."""
    if span.inputs_json is None and (found := _first_found(span, inputs)) is not None:
        span.inputs_json, span.inputs_source = _text(found[0]), found[1]
    if span.outputs_json is None and (found := _first_found(span, outputs)) is not None:
        span.outputs_json, span.outputs_source = _text(found[0]), found[1]
