"""Walking a parsed ExportTraceServiceRequest message into SpanIn objects.

This is the ingest hot path, so it reads the upb messages field by field (no MessageToDict) and
converts each AnyValue with one small recursive function.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from mcp_server.ingest.otlp.lazy_protobuf import name_of, part
from mcp_server.ingest.otlp.log_parts import build_log, severity_name
from mcp_server.ingest.otlp.shapes import LOGS, TRACES, ExportShape
from mcp_server.ingest.otlp.span_parts import (
    MAX_VALUE_DEPTH,
    SPAN_KINDS,
    STATUS_CODES,
    SpanRejected,
    ValueTooDeep,
    build_span,
    parent_id_of,
    span_id_of,
    too_deep,
    trace_id_of,
    where,
)
from mcp_server.ingest.semconv.values import nonfinite_text
from store.incoming import SpanIn
from store.logs import LogIn


def any_value(value: Any, depth: int = 1) -> Any:
    """An OTLP AnyValue as plain Python: str, bool, int, float, list, dict; bytes as base64.
    ValueTooDeep past MAX_VALUE_DEPTH (`depth` counts this value)."""
    if depth > MAX_VALUE_DEPTH:
        raise too_deep("a value")
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        # NaN and infinities have no JSON form; keep them readable instead of writing invalid JSON.
        return number if math.isfinite(number) else nonfinite_text(number)
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [any_value(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def key_values(pairs: Any) -> dict[str, Any]:
    out = {}
    for kv in pairs:
        value = kv.value
        # Most attributes are non-empty strings: one read settles them (this loop is most of
        # the decode time); "" is a string only if the oneof says so.
        text = value.string_value
        if text or value.WhichOneof("value") == "string_value":
            out[kv.key] = text
        else:
            try:
                out[kv.key] = any_value(value)
            except ValueTooDeep:
                raise too_deep(f"attribute {kv.key!r}") from None
    return out


def iter_protobuf_request(request: Message) -> Iterator[SpanIn | str]:
    """Each span of the request as a normalized SpanIn, or a message saying why it was rejected.

    The request is an ExportTraceServiceRequest, or its shallow form (see lazy_protobuf)."""
    return iter_protobuf_items(request, TRACES, Span, _span)


T = TypeVar("T")


def iter_protobuf_items(
    request: Message,
    shape: ExportShape,
    item_class: type[Message],
    read: Callable[[Any, dict[str, Any], dict[str, Any], str | None], T],
) -> Iterator[T | str]:
    """Each item (span or log record) of an export as read(item, resource, scope, service name),
    or a message saying why it was rejected. The export's resources, scopes and items may be
    bytes (its shallow form, see lazy_protobuf): each is then parsed here on its own."""
    for r_index, resources in enumerate(getattr(request, shape.resources)):
        resource: dict[str, Any] = {}
        resource_error = None
        try:
            resource = key_values(part(Resource, resources.resource).attributes)
        except SpanRejected as exc:
            resource_error = f"its resource: {exc}"
        service = resource.get("service.name")
        service_name = service if isinstance(service, str) and service else None
        for scopes in getattr(resources, shape.scopes):
            scope: dict[str, Any] = {"name": "", "version": ""}
            scope_error = resource_error
            try:
                scope_pb = part(InstrumentationScope, scopes.scope)
                scope = {"name": scope_pb.name, "version": scope_pb.version}
                if scope_pb.attributes:
                    scope["attributes"] = key_values(scope_pb.attributes)
            except SpanRejected as exc:
                scope_error = scope_error or f"its scope: {exc}"
            for i_index, raw in enumerate(getattr(scopes, shape.items)):
                item = None
                try:
                    if scope_error is not None:
                        raise SpanRejected(scope_error)
                    item = part(item_class, raw)
                    yield read(item, resource, scope, service_name)
                except SpanRejected as exc:
                    yield f"{_where(shape, r_index, scope, i_index, item, raw)}: {exc}"
                except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                    # As on the JSON path: what the conventions make of odd attribute values
                    # (flattened keys thousands of levels deep) rejects the item, not the request.
                    yield f"{_where(shape, r_index, scope, i_index, item, raw)}: could not be read ({type(exc).__name__}: {exc})"


def iter_protobuf_logs(request: Message) -> Iterator[LogIn | str]:
    """Each log record of an ExportLogsServiceRequest (or its shallow form) as a LogIn for its
    span, or a message saying why it was rejected."""
    return iter_protobuf_items(request, LOGS, LogRecord, _log_record)


def _log_record(record: Any, resource: dict[str, Any], scope: dict[str, Any], service_name: str | None) -> LogIn:
    body = None
    if record.HasField("body"):
        try:
            body = any_value(record.body)
        except ValueTooDeep:
            raise too_deep("the body") from None
    return build_log(
        trace_id=record.trace_id,
        span_id=record.span_id,
        time_ns=record.time_unix_nano,
        observed_ns=record.observed_time_unix_nano,
        severity=record.severity_text or severity_name(record.severity_number),
        event_name=record.event_name,
        attributes=key_values(record.attributes),
        body=body,
        scope=scope,
    )


def _where(shape: ExportShape, r_index: int, scope: dict[str, Any], i_index: int, item: Any, raw: Any) -> str:
    name = getattr(item, shape.name) if item is not None else name_of(shape, raw)
    return where(r_index, scope, i_index, name, shape.item)


def _span(span: Any, resource: dict[str, Any], scope: dict[str, Any], service_name: str | None) -> SpanIn:
    kind = span.kind
    status = span.status
    code = status.code
    return build_span(
        trace_id=trace_id_of(span.trace_id),
        span_id=span_id_of(span.span_id),
        parent_span_id=parent_id_of(span.parent_span_id),
        name=span.name,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        kind=SPAN_KINDS[kind] if 0 <= kind < 6 else "INTERNAL",
        status_code=STATUS_CODES[code] if 0 <= code < 3 else "UNSET",
        status_message=status.message,
        attributes=key_values(span.attributes),
        events=[
            {"name": event.name, "time_ns": event.time_unix_nano, "attributes": key_values(event.attributes)}
            for event in span.events
        ],
        links=[
            {
                "trace_id": trace_id_of(link.trace_id),
                "span_id": span_id_of(link.span_id, "link span_id"),
                "attributes": key_values(link.attributes),
            }
            for link in span.links
        ],
        resource=resource,
        scope=scope,
        service_name=service_name,
    )
