"""Where a span's inputs and outputs can come from, and moving the first one found into place.

A source is an attribute, a family of flattened attributes, or span events. Taking a payload from
attributes removes them (the store keeps nothing twice; `inputs_source`/`outputs_source` name
where it came from, so the tools can give it back under that name). Payloads read from events
leave the events as they are: an event also carries its time and other attributes.

Source names: an attribute key (`gen_ai.input.messages`), a flattened prefix whose indexed keys
were reassembled into a list (`llm.input_messages`), or `event:` and the event names read
(`event:gen_ai.system.message,gen_ai.user.message`).

A structured attribute that holds no content (litellm's tool-call turn sends gen_ai.output.messages
as `[{"role": "assistant", "parts": []}]`, the call itself only in gen_ai.completion.0.*) yields to
a later source that has some; it is taken only when no source has content, and otherwise stays in
the attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mcp_server.ingest.semconv.values import load_json, parse_json, to_json_text, unflatten
from store.incoming import SpanIn

Decode = Callable[[dict[str, Any], Any], Any]
EVENT_SOURCE_PREFIX = "event:"
"""How inputs_source/outputs_source begin for a payload assembled from span events."""


@dataclass(frozen=True, slots=True)
class JsonText:
    """A payload that arrived as JSON text: stored as that text, not decoded and encoded again.
    `value` is what the text holds, for readers of the payload (previews, call-site forms)."""

    text: str
    value: Any


def as_json(attributes: dict[str, Any], value: Any) -> Any:
    """The convention says the value is JSON: a string holding JSON is kept as that JSON text
    (it is the decoded value's encoding) where it was read exactly, else as the value it holds,
    to be encoded again (NaN read as text); other strings are plain text."""
    if isinstance(value, str) and (parsed := parse_json(value)) is not None:
        decoded, exact = parsed
        return JsonText(value, decoded) if exact else decoded
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

    def peek(self, span: SpanIn) -> tuple[Any, str] | None:
        """The decoded payload, left in the attributes."""
        attributes = span.attributes
        value = attributes.get(self.key)
        if value is None or value == "":
            return None
        return self.decode(attributes, value), self.key

    def take(self, span: SpanIn) -> tuple[Any, str] | None:
        found = self.peek(span)
        if found is not None:
            del span.attributes[self.key]
        return found


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


def plain(value: Any) -> Any:
    """A payload as the value it holds (JSON text read back)."""
    return value.value if isinstance(value, JsonText) else value


# Fields that label a message rather than say anything: a message of only these is empty.
_LABELS = frozenset({"role", "type", "finish_reason", "index"})
_EMPTY = (None, "", [], {})


def has_content(value: Any) -> bool:
    """Whether a payload says anything. A list of messages says nothing when each message holds
    only labels (role, type, finish_reason) and empty fields; the check stays one level deep, as
    it runs on every payload."""
    if isinstance(value, list):
        return any(
            not isinstance(item, dict) or any(v not in _EMPTY for k, v in item.items() if k not in _LABELS)
            for item in value
        )
    return value not in _EMPTY


def _first_found(span: SpanIn, sources: Sequence[Source]) -> tuple[Any, str] | None:
    attributes = span.attributes
    empty: tuple[Attr, tuple[Any, str]] | None = None
    for source in sources:
        if isinstance(source, Attr):
            # Most sources are single attributes: a dict lookup rules them out without a call.
            if source.key not in attributes or (found := source.peek(span)) is None:
                continue
            if not has_content(plain(found[0])):
                empty = empty or (source, found)
                continue
            del attributes[source.key]
            return found
        found = source.take(span)
        if found is not None:
            return found
    if empty is None:
        return None
    del attributes[empty[0].key]
    return empty[1]


def fill_payloads(span: SpanIn, inputs: Sequence[Source], outputs: Sequence[Source]) -> tuple[Any, Any]:
    """Set inputs_json/outputs_json from the first source present, unless already set; returns
    the payloads it set (None for a side it left alone)."""
    taken_inputs = taken_outputs = None
    if span.inputs_json is None and (found := _first_found(span, inputs)) is not None:
        span.inputs_json, span.inputs_source = _text(found[0]), found[1]
        taken_inputs = plain(found[0])
    if span.outputs_json is None and (found := _first_found(span, outputs)) is not None:
        span.outputs_json, span.outputs_source = _text(found[0]), found[1]
        taken_outputs = plain(found[0])
    return taken_inputs, taken_outputs


def refill_empty(span: SpanIn, side: str, sources: Sequence[Source]) -> None:
    """Where the span's inputs or outputs (`side`) hold no content, take them from the first of
    `sources` that has some; the payload replaced goes back into the attributes under its source's
    name, as it would have stayed there had that source had content at first. Content the span
    has is never replaced."""
    text, source = getattr(span, f"{side}_json"), getattr(span, f"{side}_source")
    if text is None or source is None or source.startswith(EVENT_SOURCE_PREFIX):
        return
    try:
        current = load_json(text)[0]
    except ValueError:
        return
    if has_content(current):
        return
    for candidate in sources:
        found = candidate.take(span)
        if found is not None and has_content(plain(found[0])):
            setattr(span, f"{side}_json", _text(found[0]))
            setattr(span, f"{side}_source", found[1])
            span.attributes.setdefault(source, current)
            return


_CALL_SITE = frozenset({"args", "kwargs"})


def unwrap_call_site(span: SpanIn, inputs: Any) -> None:
    """A tool's arguments recorded as the call's `{"args": [], "kwargs": {...}}` (Traceloop,
    LlamaIndex) are shown as the arguments themselves: the keyword arguments, or the positional
    ones where there are no others. The recorded form goes back into the attributes under its
    source's name; a call with both kinds of arguments is left as it came."""
    if not (isinstance(inputs, dict) and "kwargs" in inputs and _CALL_SITE.issuperset(inputs)):
        return
    args, kwargs = inputs.get("args") or [], inputs["kwargs"] or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict) or (args and kwargs):
        return
    if span.inputs_source is not None and not span.inputs_source.startswith("event:"):
        span.attributes[span.inputs_source] = inputs
    span.inputs_json = to_json_text(args or kwargs)
