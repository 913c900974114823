"""What both encodings share once a log record's fields are read: checks and its span-event form.

A log record is kept as an event of the span it names (store.logs), so one without a trace and
span id is rejected (the client is told in partial_success: tracejudge has nowhere to show it),
as is one with a bad id, a time the store cannot hold, or a value nested too deeply. The event
takes the record's name (LogRecord.event_name, or an attribute: see _NAME_ATTRIBUTES; else "log"),
time (or observed time), attributes and body; LOG_MARKER holds what only a log has (severity, the
emitting scope), and marks the event as one a re-sent span must keep.
"""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.otlp.span_parts import MAX_TIME_NS, SpanRejected, span_id_of, too_late, trace_id_of
from store.log_events import LOG_MARKER
from store.logs import LogIn

_NAME_ATTRIBUTES = ("event.name", "event_name")
"""Where records name their event when LogRecord.event_name is empty: SDKs before it existed
wrote the event.name attribute; litellm writes event_name."""
_SEVERITIES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
"""Each covers four SeverityNumber values: 1-4 TRACE, 5-8 DEBUG ... 21-24 FATAL."""
SEVERITY_NUMBERS = {
    f"SEVERITY_NUMBER_{name}{n if n > 1 else ''}": 4 * i + n for i, name in enumerate(_SEVERITIES) for n in range(1, 5)
}
"""The OTLP/JSON enum names: SEVERITY_NUMBER_TRACE (1), SEVERITY_NUMBER_TRACE2 ... SEVERITY_NUMBER_FATAL4 (24)."""


def severity_name(number: int) -> str | None:
    """The short name of an OTLP SeverityNumber, None when unset or out of range."""
    return _SEVERITIES[(number - 1) // 4] if 1 <= number <= 24 else None


def build_log(
    *,
    trace_id: object,
    span_id: object,
    time_ns: int,
    observed_ns: int,
    severity: str | None,
    event_name: object,
    attributes: dict[str, Any],
    body: Any,
    scope: dict[str, Any],
) -> LogIn:
    """Check what the store needs and build the record's LogIn."""
    if _unset(trace_id) or _unset(span_id):
        raise SpanRejected(
            "has no trace_id and span_id; tracejudge keeps a log record as an event of the span it "
            "names, so emit it while that span is current (the SDK then sets both ids)"
        )
    when = time_ns or observed_ns
    if when > MAX_TIME_NS:
        raise SpanRejected(too_late("time_unix_nano", when))
    if not isinstance(event_name, str):
        raise SpanRejected("event_name is not a string")
    for key in _NAME_ATTRIBUTES:
        if not event_name and isinstance(attributes.get(key), str):
            event_name = attributes[key]
    marker: dict[str, Any] = {"scope": scope.get("name") or ""}
    if severity:
        marker["severity"] = severity
    event: dict[str, Any] = {"name": event_name or "log", "time_ns": when, "attributes": attributes}
    if body is not None:
        event["body"] = body
    event[LOG_MARKER] = marker
    return LogIn(trace_id=trace_id_of(trace_id), span_id=span_id_of(span_id), event=event)


def _unset(value: object) -> bool:
    # OTLP writes "no span" as an empty or an all-zero id.
    if isinstance(value, bytes):
        return not any(value)
    if isinstance(value, str):
        return not value.strip("0")
    return value is None
