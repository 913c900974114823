"""Reading an OTLP export whose values nest too deeply for protobuf to parse it whole.

upb stops at 100 nested messages, so one attribute value 48 AnyValues deep makes the whole
export unreadable. When that happens the body is read again through a shallow schema with the
same field numbers, in which each resource, scope and span (or log record) is left as bytes;
each is then parsed on its own (with the nesting budget to itself), so only the part that is
too deep is rejected. The trace and logs exports share field numbers (resource 1, scopes 2,
items 2), so one shape serves both, under each export's own field names.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from mcp_server.otlp.span_parts import SpanRejected, too_deep

_POOL = descriptor_pool.DescriptorPool()
_FIELD = descriptor_pb2.FieldDescriptorProto


def _shallow_classes(
    package: str, resources: str, scopes: str, items: str, name_field: int
) -> tuple[type[Message], type[Message]]:
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto3")
    one, many = _FIELD.LABEL_OPTIONAL, _FIELD.LABEL_REPEATED
    shapes = {
        "Scope": [("scope", 1, one, _FIELD.TYPE_BYTES, ""), (items, 2, many, _FIELD.TYPE_BYTES, "")],
        "Resource": [("resource", 1, one, _FIELD.TYPE_BYTES, ""), (scopes, 2, many, _FIELD.TYPE_MESSAGE, "Scope")],
        "Request": [(resources, 1, many, _FIELD.TYPE_MESSAGE, "Resource")],
    }
    for message_name, fields in shapes.items():
        proto = file.message_type.add(name=message_name)
        for name, number, label, kind, type_name in fields:
            field = proto.field.add(name=name, number=number, label=label, type=kind)  # type: ignore[arg-type]
            if type_name:
                field.type_name = f".{package}.{type_name}"
    # An item's name alone (field 5 of a Span, 12 of a LogRecord), to say which one was rejected.
    file.message_type.add(name="Name").field.add(name="name", number=name_field, label=one, type=_FIELD.TYPE_STRING)
    _POOL.Add(file)
    return (
        message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{package}.Request")),
        message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{package}.Name")),
    )


SHALLOW_TRACES, _SPAN_NAME = _shallow_classes("tracejudge.shallow.traces", "resource_spans", "scope_spans", "spans", 5)
SHALLOW_LOGS, _EVENT_NAME = _shallow_classes("tracejudge.shallow.logs", "resource_logs", "scope_logs", "log_records", 12)
_NAMES: dict[str, type[Message]] = {"Span": _SPAN_NAME, "LogRecord": _EVENT_NAME}


def name_of(message_class: type[Message], value: Any) -> str | None:
    """The name of a span (or the event name of a log record) that part() could not parse."""
    if not isinstance(value, bytes):
        return None
    try:
        return _NAMES[message_class.DESCRIPTOR.name].FromString(value).name  # type: ignore[attr-defined]
    except DecodeError:
        return None


def too_deep_to_parse(exc: Exception) -> bool:
    """Whether a protobuf parse failed on its nesting limit (and not on a damaged body)."""
    return isinstance(exc, DecodeError) and "MaxDepth" in str(exc)


M = TypeVar("M", bound=Message)


def part(message_class: type[M], value: Any) -> M:
    """A part of the export as its message: itself when the export parsed whole, else parsed from
    the bytes the shallow schema left; SpanRejected (ValueTooDeep for nesting,
    see too_deep) if it will not parse."""
    if not isinstance(value, bytes):
        return value
    try:
        return message_class.FromString(value)
    except DecodeError as exc:
        if too_deep_to_parse(exc):
            raise too_deep("a value") from exc
        raise SpanRejected(f"is not valid protobuf ({exc})") from exc
