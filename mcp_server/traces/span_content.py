"""GetSpan and GetRootSpan: one span's full content, paged by characters.

A span's content is its fields status_message, inputs, outputs, attributes, events, links,
resource and scope, each measured as its text (JSON text for all but status_message). A page
holds at most `max_content_length` characters of content:

1. it first continues the field a previous page cut (as a `slices` piece of its text);
2. then every remaining field that fits whole comes decoded (inputs as the JSON value, not a
   string of JSON);
3. leftover room starts the first field that still does not fit, as a piece of its text.

The token remembers which fields are done and where the cut field resumes, so the pages together
deliver every character of every field exactly once: whole, or as pieces that join in order.
Characters are Python str characters (code points), never bytes.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import check_range, clip, clip_field, dumps, fit, issue_token, read_token, state_int
from mcp_server.tooling.timestamps import iso_time, ms
from store import Database
from store import spans as span_store
from store.errors import InvalidArgument, InvalidPageToken
from store.ids import normalize_span_id, normalize_trace_id
from store.records import SpanRecord

MIN_CONTENT_LENGTH = 1_000
MAX_CONTENT_LENGTH = 200_000
DEFAULT_CONTENT_LENGTH = 20_000
NAME_CHARS = 1_000
"""Span names longer than this are cut (names are metadata; content is what pages)."""
LABEL_CHARS = 200
"""model, tool_name, span_type, kind and the *_source attribute names are cut to this many
characters; like the name they come from the wire and are not paged."""
MISSING_CHARS = 1_000
"""Characters (as JSON) of missing_attributes one answer lists."""
MAX_ATTRIBUTE_KEYS = 200
"""Most keys accepted in attributes_to_fetch."""
ANSWER_OVERHEAD = 5_000
"""Characters an answer may add to max_content_length: ids, times, tokens, name and labels (cut
to NAME_CHARS and LABEL_CHARS), missing_attributes (MISSING_CHARS), notice and page token."""
_MIN_PIECE = 200
"""A page starts cutting a new field only with at least this much room left."""

CONTENT_FIELDS: tuple[str, ...] = (
    "status_message", "inputs", "outputs", "attributes", "events", "links", "resource", "scope",
)  # fmt: skip

_PARAMETERS_TEXT = """\
A field too long for the page comes in `slices`, continued on the next page."""

GET_SPAN_DESCRIPTION = f"""\
Read one span in full: inputs, outputs, attributes, events (exceptions), model, tokens, status.
{_PARAMETERS_TEXT}
Example: GetSpan(trace_id="4bf92f35...", span_id="00f067aa0ba902b7")"""

GET_ROOT_SPAN_DESCRIPTION = f"""\
Read the trace's root span (usually the whole request and final answer) as GetSpan does, without
its span_id. {_PARAMETERS_TEXT}
Example: GetRootSpan(trace_id="4bf92f35...")"""


class ContentSlice(BaseModel):
    """A piece of one field's text: characters [start, end) of total_chars."""

    field: str
    start: int
    end: int
    total_chars: int
    text: str


class SpanDetail(BaseModel):
    """One page of a span's content, with its metadata on every page."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    kind: str | None
    status: str
    start_time: str | None
    end_time: str | None
    duration_ms: float | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost: float | None
    tool_name: str | None
    inputs_source: str | None = Field(description="Attribute the inputs were taken from, if any.")
    outputs_source: str | None = Field(description="Attribute the outputs were taken from, if any.")
    status_message: str | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: Any = None
    events: Any = None
    links: Any = None
    resource: Any = None
    scope: Any = None
    content_chars: int = Field(description="Characters of all content fields together (their JSON text).")
    slices: list[ContentSlice] = Field(default_factory=list)
    fields_on_earlier_pages: list[str] = Field(default_factory=list)
    missing_attributes: list[str] = Field(default_factory=list)
    next_page_token: str | None = None
    notice: str | None = None


def get_span(
    db: Database,
    trace_id: str,
    span_id: str,
    *,
    attributes_to_fetch: list[str] | None = None,
    max_content_length: int = DEFAULT_CONTENT_LENGTH,
    page_token: str | None = None,
) -> SpanDetail:
    """One span's content, a page of at most `max_content_length` characters at a time."""
    trace_id = normalize_trace_id(trace_id)
    span_id = normalize_span_id(span_id)
    keys = _check(attributes_to_fetch, max_content_length)
    arguments = {"trace_id": trace_id, "span_id": span_id, "keys": keys, "max": max_content_length}
    state = read_token(page_token, "GetSpan", arguments)
    span = span_store.get_span(db, trace_id, span_id)
    return _page(span, "GetSpan", arguments, state, keys, max_content_length)


def get_root_span(
    db: Database,
    trace_id: str,
    *,
    attributes_to_fetch: list[str] | None = None,
    max_content_length: int = DEFAULT_CONTENT_LENGTH,
    page_token: str | None = None,
) -> SpanDetail:
    """The root span's content, paged exactly like `get_span`."""
    trace_id = normalize_trace_id(trace_id)
    keys = _check(attributes_to_fetch, max_content_length)
    arguments = {"trace_id": trace_id, "keys": keys, "max": max_content_length}
    state = read_token(page_token, "GetRootSpan", arguments)
    span = span_store.get_root_span(db, trace_id)
    if state is not None and state.get("span") != span.span_id:
        raise InvalidPageToken(
            "the trace's root span changed since this page_token was issued; call GetRootSpan "
            "without page_token to start again."
        )
    return _page(span, "GetRootSpan", arguments, state, keys, max_content_length)


def _check(attributes_to_fetch: list[str] | None, max_content_length: int) -> list[str] | None:
    check_range("max_content_length", max_content_length, MIN_CONTENT_LENGTH, MAX_CONTENT_LENGTH)
    if attributes_to_fetch is None:
        return None
    if len(attributes_to_fetch) > MAX_ATTRIBUTE_KEYS:
        raise InvalidArgument(
            f"attributes_to_fetch names {len(attributes_to_fetch):,} keys; the limit is "
            f"{MAX_ATTRIBUTE_KEYS}. Ask for fewer, or leave it out to get every attribute."
        )
    return list(dict.fromkeys(attributes_to_fetch))


def _texts(span: SpanRecord, keys: list[str] | None) -> tuple[dict[str, str], list[str]]:
    """Each non-empty content field's text, and the requested attribute keys the span lacks."""
    texts = {
        "status_message": span.status_message,
        "inputs": span.inputs_json,
        "outputs": span.outputs_json,
        "attributes": span.attributes_json,
        "events": span.events_json,
        "links": span.links_json,
        "resource": span.resource_json,
        "scope": span.scope_json,
    }
    missing: list[str] = []
    if keys is not None:
        attributes = json.loads(span.attributes_json) if span.attributes_json else {}
        chosen: dict[str, Any] = {}
        for key in keys:
            if key in attributes:
                chosen[key] = attributes[key]
            elif key == span.inputs_source and span.inputs_json is not None:
                chosen[key] = json.loads(span.inputs_json)
            elif key == span.outputs_source and span.outputs_json is not None:
                chosen[key] = json.loads(span.outputs_json)
            else:
                missing.append(key)
        texts["attributes"] = dumps(chosen) if chosen else None
    return {field: text for field, text in texts.items() if text}, missing


def _page(
    span: SpanRecord,
    tool: str,
    arguments: dict[str, Any],
    state: dict[str, Any] | None,
    keys: list[str] | None,
    max_content_length: int,
) -> SpanDetail:
    texts, missing = _texts(span, keys)
    content_chars = sum(len(text) for text in texts.values())
    order = [field for field in CONTENT_FIELDS if field in texts]
    done: set[str] = set()
    current: str | None = None
    offset = 0
    if state is not None:
        if state_int(state, "chars", tool) != content_chars:
            raise InvalidPageToken(
                f"the span changed since this page_token was issued; call {tool} without page_token to start again."
            )
        done_list = state.get("done")
        current = state.get("cur")
        if (
            not isinstance(done_list, list)
            or not all(isinstance(field, str) for field in done_list)
            or not set(done_list) <= set(order)
            or current not in (None, *order)
        ):
            raise InvalidPageToken(f"page_token is damaged; call {tool} without page_token to start again.")
        done = set(done_list)
        if current is not None:
            offset = state_int(state, "off", tool, high=len(texts[current]) - 1)
    earlier = [field for field in order if field in done]

    room = max_content_length
    whole: dict[str, Any] = {}
    slices: list[ContentSlice] = []

    def cut(field: str, start: int) -> str | None:
        """Deliver a piece of `field` from `start`; the field to resume next page, if unfinished."""
        nonlocal room
        text = texts[field]
        end, size = fit(text, start, room)
        slices.append(ContentSlice(field=field, start=start, end=end, total_chars=len(text), text=text[start:end]))
        room -= size
        if end == len(text):
            done.add(field)
            return None
        return field

    if current is not None:
        current = cut(current, offset)
        offset = slices[-1].end
    for field in order:
        if field in done or field == current:
            continue
        # status_message is plain text, so its escapes count; JSON text is shown as it is stored.
        size = len(dumps(texts[field])) - 2 if field == "status_message" else len(texts[field])
        if size <= room:
            whole[field] = texts[field] if field == "status_message" else json.loads(texts[field])
            room -= size
            done.add(field)
    if current is None and room >= _MIN_PIECE:
        remaining = [field for field in order if field not in done]
        if remaining:
            current = cut(remaining[0], 0)
            offset = slices[-1].end

    remaining = [field for field in order if field not in done]
    token = None
    if remaining:
        next_state: dict[str, Any] = {"chars": content_chars, "done": sorted(done), "cur": current, "off": offset}
        if tool == "GetRootSpan":
            next_state["span"] = span.span_id
        token = issue_token(tool, arguments, next_state)
    cuts: list[str] = []
    labels = {
        field: clip_field(field, getattr(span, field), LABEL_CHARS, cuts)
        for field in ("span_type", "kind", "model", "tool_name", "inputs_source", "outputs_source")
    }
    return SpanDetail(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=clip_field("name", span.name, NAME_CHARS, cuts),
        kind=labels["kind"],
        span_type=labels["span_type"],
        status=span.status_code,
        start_time=iso_time(span.start_ns),
        end_time=iso_time(span.end_ns),
        duration_ms=ms(span.end_ns - span.start_ns) if span.end_ns is not None else None,
        model=labels["model"],
        input_tokens=span.input_tokens,
        output_tokens=span.output_tokens,
        total_tokens=span.total_tokens,
        cost=span.cost,
        tool_name=labels["tool_name"],
        inputs_source=labels["inputs_source"],
        outputs_source=labels["outputs_source"],
        content_chars=content_chars,
        slices=slices,
        fields_on_earlier_pages=earlier,
        missing_attributes=_bounded_keys(missing, cuts),
        next_page_token=token,
        notice=_notice(tool, cuts, slices, remaining, current, offset, texts, token),
        **whole,
    )


def _bounded_keys(keys: list[str], cuts: list[str]) -> list[str]:
    """The requested attribute keys a span lacks, within MISSING_CHARS."""
    shown: list[str] = []
    room = MISSING_CHARS
    for key in keys:
        key = clip(key, LABEL_CHARS)
        room -= len(dumps(key)) + 1
        if room < 0:
            cuts.append(f"{len(keys) - len(shown):,} more requested attribute keys are missing too.")
            break
        shown.append(key)
    return shown


def _notice(
    tool: str,
    cuts: list[str],
    slices: list[ContentSlice],
    remaining: list[str],
    current: str | None,
    offset: int,
    texts: dict[str, str],
    token: str | None,
) -> str | None:
    parts = list(cuts)
    for piece in slices:
        parts.append(
            f"showing characters {piece.start:,} to {piece.end:,} of {piece.total_chars:,} of "
            f"{piece.field} (JSON text in slices)."
        )
    if token is not None:
        later = [
            f"{field} from character {offset:,}" if field == current else f"{field} ({len(texts[field]):,} characters)"
            for field in remaining
        ]
        parts.append(
            f"still to come: {', '.join(later)}; call {tool} again with the same arguments and "
            f"page_token='{token}'."
        )
    return " ".join(parts) or None
