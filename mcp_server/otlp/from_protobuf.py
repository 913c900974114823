"""Walking a parsed ExportTraceServiceRequest message into SpanIn objects.

This is the ingest hot path, so it reads the upb messages field by field (no MessageToDict) and
converts each AnyValue with one small recursive function.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from mcp_server.otlp.lazy_protobuf import name_of, part
from mcp_server.otlp.span_parts import (
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
from mcp_server.semconv.values import nonfinite_text
from store.ingest import SpanIn


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

    The request is an ExportTraceServiceRequest, or its shallow form (see lazy_protobuf), whose
    resources, scopes and spans are parsed here one by one."""
    for r_index, resource_spans in enumerate(request.resource_spans):  # type: ignore[attr-defined]
        resource: dict[str, Any] = {}
        part_error = None
        try:
            resource = key_values(part(Resource, resource_spans.resource).attributes)
        except SpanRejected as exc:
            part_error = f"its resource: {exc}"
        service = resource.get("service.name")
        service_name = service if isinstance(service, str) and service else None
        for scope_spans in resource_spans.scope_spans:
            scope: dict[str, Any] = {"name": "", "version": ""}
            scope_error = part_error
            try:
                scope_pb = part(InstrumentationScope, scope_spans.scope)
                scope = {"name": scope_pb.name, "version": scope_pb.version}
                if scope_pb.attributes:
                    scope["attributes"] = key_values(scope_pb.attributes)
            except SpanRejected as exc:
                scope_error = scope_error or f"its scope: {exc}"
            for s_index, item in enumerate(scope_spans.spans):
                name = None
                try:
                    if scope_error is not None:
                        raise SpanRejected(scope_error)
                    span = part(Span, item)
                    name = span.name
                    yield _span(span, resource, scope, service_name)
                except SpanRejected as exc:
                    yield f"{where(r_index, scope, s_index, name or name_of(Span, item))}: {exc}"
                except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                    # As on the JSON path: what the conventions make of odd attribute values
                    # (flattened keys thousands of levels deep) rejects the span, not the request.
                    yield f"{where(r_index, scope, s_index, name)}: could not be read ({type(exc).__name__}: {exc})"


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
