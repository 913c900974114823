"""How each OTLP signal's export nests its items: resources, then scopes, then spans or log records.

The trace and logs exports differ only in names (and share field numbers), so one walker per
encoding reads both, told which names to use by an ExportShape.
"""

from __future__ import annotations

from dataclasses import dataclass


def camel(name: str) -> str:
    """The OTLP/JSON spelling of a protobuf field name: resource_spans -> resourceSpans."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


@dataclass(frozen=True, slots=True)
class ExportShape:
    """One signal's field names (protobuf spelling; OTLP/JSON's is camel(...) of each)."""

    item: str
    """What one item is called in messages: "span", "log record"."""
    resources: str
    scopes: str
    legacy_scopes: str
    """What OTLP before 0.19 called the scopes ("instrumentation libraries"); old exporters send it."""
    items: str
    name: str
    """The item's field that names it in a rejection message."""
    name_number: int
    """That field's number, to read the name of an item that does not parse as a whole."""
    message: str
    """The export request's full protobuf name, for messages that say what to send."""


TRACES = ExportShape(
    item="span",
    resources="resource_spans",
    scopes="scope_spans",
    legacy_scopes="instrumentation_library_spans",
    items="spans",
    name="name",
    name_number=5,
    message="opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
)
LOGS = ExportShape(
    item="log record",
    resources="resource_logs",
    scopes="scope_logs",
    legacy_scopes="instrumentation_library_logs",
    items="log_records",
    name="event_name",
    name_number=12,
    message="opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest",
)
