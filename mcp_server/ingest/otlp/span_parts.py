"""What both encodings share once a field is read: the enum names, id checks and span checks.

A span is rejected (alone) when it cannot be stored meaningfully: a bad or all-zero id, no name,
no start time, an end before its start, a time (start, end, event) the store cannot hold, or a
value nested deeper than MAX_VALUE_DEPTH (in its resource or scope too). Everything OTel itself tolerates (an unknown kind or
status code, a missing end time, empty attributes) is accepted as it came.
"""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.semconv import normalize
from store.errors import InvalidId
from store.ids import normalize_span_id, normalize_trace_id
from store.incoming import SpanIn

SPAN_KINDS = ("INTERNAL", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
"""Indexed by the OTLP enum number; 0 (UNSPECIFIED) reads as INTERNAL, as the spec says."""
STATUS_CODES = ("UNSET", "OK", "ERROR")

MAX_TIME_NS = 2**63 - 1
"""The latest time the store can hold (SQLite integers are signed 64-bit), in 2262. OTLP times are
unsigned 64-bit, and OTLP/JSON strings may hold 20 digits: anything later is refused here, so the
write of a batch never fails on one span's clock."""

MAX_VALUE_DEPTH = 32
"""AnyValues nested in one attribute value, the value itself included (a string is 1, a list of
strings 2). A span holding a deeper value is rejected alone. upb parses at most 100 nested
messages and a map level takes three, so 32 levels of any mix of lists and maps is what a whole
export can carry in protobuf; JSON is held to the same bound."""

_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_ZERO_TRACE_BYTES = bytes(16)
_ZERO_SPAN_BYTES = bytes(8)


class SpanRejected(Exception):
    """One span cannot be stored; the message says why (its position is added by the caller)."""


class ValueTooDeep(SpanRejected):
    """A value nests deeper than MAX_VALUE_DEPTH: in a resource or scope it rejects their spans."""


def too_deep(what: str) -> ValueTooDeep:
    return ValueTooDeep(
        f"{what} is nested more than {MAX_VALUE_DEPTH} levels deep; send a structure that deep "
        "as JSON text in a string attribute"
    )


def trace_id_of(value: object) -> str:
    # Protobuf ids are raw bytes: the common case needs no more than this.
    if type(value) is bytes and len(value) == 16 and value != _ZERO_TRACE_BYTES:
        return value.hex()
    try:
        trace_id = normalize_trace_id(value)
    except InvalidId as exc:
        raise SpanRejected(_describe_id(value, "trace_id", 32)) from exc
    if trace_id == _ZERO_TRACE:
        raise SpanRejected("trace_id is all zeros, which OTLP defines as invalid")
    return trace_id


def span_id_of(value: object, what: str = "span_id") -> str:
    if type(value) is bytes and len(value) == 8 and value != _ZERO_SPAN_BYTES:
        return value.hex()
    try:
        span_id = normalize_span_id(value)
    except InvalidId as exc:
        raise SpanRejected(_describe_id(value, what, 16)) from exc
    if span_id == _ZERO_SPAN:
        raise SpanRejected(f"{what} is all zeros, which OTLP defines as invalid")
    return span_id


def parent_id_of(value: object) -> str | None:
    if not value:
        return None
    return span_id_of(value, "parent_span_id")


def _describe_id(value: object, what: str, n_hex: int) -> str:
    if isinstance(value, bytes | bytearray):
        return f"{what} is {len(value)} bytes, not {n_hex // 2}"
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"{what} {shown} is not {n_hex} hex characters (or {n_hex // 2} bytes in base64)"


def build_span(
    *,
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    name: object,
    start_ns: int,
    end_ns: int,
    kind: str,
    status_code: str,
    status_message: str,
    attributes: dict[str, Any],
    events: list[dict[str, Any]],
    links: list[dict[str, Any]],
    resource: dict[str, Any],
    scope: dict[str, Any],
    service_name: str | None,
) -> SpanIn:
    """Check what the store needs, build the SpanIn and apply the semantic conventions."""
    if not isinstance(name, str) or not name:
        raise SpanRejected("span has no name; OTLP requires one")
    if start_ns <= 0:
        raise SpanRejected("start_time_unix_nano is missing or 0")
    if end_ns and end_ns < start_ns:
        raise SpanRejected(f"end_time_unix_nano {end_ns} is before start_time_unix_nano {start_ns}")
    if start_ns > MAX_TIME_NS:
        raise SpanRejected(too_late("start_time_unix_nano", start_ns))
    if end_ns > MAX_TIME_NS:
        raise SpanRejected(too_late("end_time_unix_nano", end_ns))
    for event in events:
        # The whole span is refused rather than the event dropped: the store keeps what came or
        # says why not, and a clock this far off makes the span's other times suspect too.
        if event["time_ns"] > MAX_TIME_NS:
            raise SpanRejected(too_late(f"event {event['name']!r} time_unix_nano", event["time_ns"]))
    span = SpanIn(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        start_ns=start_ns,
        parent_span_id=parent_span_id,
        end_ns=end_ns or None,
        kind=kind,
        status_code=status_code,
        status_message=status_message or None,
        attributes=attributes,
        events=events,
        links=links,
        resource=resource,
        scope=scope,
        service_name=service_name,
    )
    normalize(span)
    return span


def too_late(what: str, value: int) -> str:
    return (
        f"{what} {value} is after the year 2262 (beyond 2**63-1 ns), later than the store can "
        "hold; send nanoseconds since the Unix epoch"
    )


def where(resource_index: int, scope: dict[str, Any], span_index: int, name: object, item: str = "span") -> str:
    named = f" {name!r}" if isinstance(name, str) and name else ""
    return f"{item} {span_index}{named} of scope {scope.get('name') or ''!r} in resource {resource_index}"
