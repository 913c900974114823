"""Reading an OTLP export whose values nest too deeply for protobuf to parse it whole.

upb stops at 100 nested messages, so one attribute value 33 maps (or 48 lists) deep makes the
whole export unreadable. When that happens the body is read again through a shallow schema with the
same field numbers, in which each resource, scope and span (or log record) is left as bytes;
each is then parsed on its own (with the nesting budget to itself), so only the part that is
too deep is rejected. The trace and logs exports share field numbers (resource 1, scopes 2,
items 2), so one shape serves both, under each export's own field names.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from mcp_server.ingest.otlp.shapes import LOGS, TRACES, ExportShape
from mcp_server.ingest.otlp.span_parts import SpanRejected, too_deep

_POOL = descriptor_pool.DescriptorPool()
_FIELD = descriptor_pb2.FieldDescriptorProto


def _shallow_classes(shape: ExportShape) -> tuple[type[Message], type[Message]]:
    package = f"tracejudge.shallow.{shape.items}"
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto3")
    one, many = _FIELD.LABEL_OPTIONAL, _FIELD.LABEL_REPEATED
    shapes = {
        "Scope": [("scope", 1, one, _FIELD.TYPE_BYTES, ""), (shape.items, 2, many, _FIELD.TYPE_BYTES, "")],
        "Resource": [("resource", 1, one, _FIELD.TYPE_BYTES, ""), (shape.scopes, 2, many, _FIELD.TYPE_MESSAGE, "Scope")],
        "Request": [(shape.resources, 1, many, _FIELD.TYPE_MESSAGE, "Resource")],
        # An item's name alone, to say which one was rejected when it does not parse.
        "Name": [(shape.name, shape.name_number, one, _FIELD.TYPE_STRING, "")],
    }
    for message_name, fields in shapes.items():
        proto = file.message_type.add(name=message_name)
        for name, number, label, kind, type_name in fields:
            field = proto.field.add(name=name, number=number, label=label, type=kind)  # type: ignore[arg-type]
            if type_name:
                field.type_name = f".{package}.{type_name}"
    _POOL.Add(file)
    request, name = (_POOL.FindMessageTypeByName(f"{package}.{n}") for n in ("Request", "Name"))
    return message_factory.GetMessageClass(request), message_factory.GetMessageClass(name)


_CLASSES = {shape: _shallow_classes(shape) for shape in (TRACES, LOGS)}


def parse_shallow(shape: ExportShape, body: bytes) -> Message:
    """The export in its shallow form (items, scopes and resources left as bytes); DecodeError
    if even that does not parse."""
    return _CLASSES[shape][0].FromString(body)


def name_of(shape: ExportShape, value: Any) -> str | None:
    """The name of an item that part() could not parse (a span's name, a log's event name)."""
    if not isinstance(value, bytes):
        return None
    try:
        return getattr(_CLASSES[shape][1].FromString(value), shape.name)
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
