"""Walking an OTLP/JSON ExportTraceServiceRequest (already json.loads-ed) into SpanIn objects.

Follows the OTLP/JSON mapping and what exporters actually send: camelCase field names (snake_case
accepted too), ids as hex of either case or base64, 64-bit integers as strings or numbers, enums
as numbers or names. Any value of the wrong type rejects its span, never the request; only a
body without the request's shape (resourceSpans, scopeSpans, spans lists) is InvalidOtlp.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from mcp_server.ingest.otlp.log_parts import SEVERITY_NUMBERS, build_log, severity_name
from mcp_server.ingest.otlp.shapes import LOGS, TRACES, ExportShape, camel
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
from mcp_server.ingest.semconv.values import has_unpaired_surrogate, nonfinite_text
from store.errors import InvalidOtlp
from store.incoming import SpanIn
from store.logs import LogIn

_KIND_NAMES = {name: i for i, name in enumerate(SPAN_KINDS)} | {
    f"SPAN_KIND_{name}": i for i, name in enumerate(SPAN_KINDS)
}
_KIND_NAMES["SPAN_KIND_UNSPECIFIED"] = 0
_STATUS_NAMES = {name: i for i, name in enumerate(STATUS_CODES)} | {
    f"STATUS_CODE_{name}": i for i, name in enumerate(STATUS_CODES)
}


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _list(obj: dict[str, Any], camel: str, snake: str, what: str) -> list[Any]:
    value = _field(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidOtlp(
            f"{what} is {type(value).__name__}, not a list; OTLP/JSON nests "
            "resourceSpans[].scopeSpans[].spans[] (resourceLogs[].scopeLogs[].logRecords[]) as arrays."
        )
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidOtlp(f"{what} is {type(value).__name__}, not an object; see the OTLP/JSON examples.")
    return value


def iter_json_request(request: dict[str, Any], *, exact: bool) -> Iterator[SpanIn | str]:
    """Each span of the request as a normalized SpanIn, or a message saying why it was rejected.

    `exact` is load_json's answer for the text the request came from: where it is False, strings
    may hold unpaired surrogates, and a span holding one (in its own fields or in its resource or
    scope) is rejected, since no Unicode text, and so no store, can hold it.
    """
    return iter_json_items(request, TRACES, _span, exact=exact)


T = TypeVar("T")


def iter_json_items(
    request: dict[str, Any],
    shape: ExportShape,
    read: Callable[[dict[str, Any], dict[str, Any], dict[str, Any], str | None], T],
    *,
    exact: bool,
) -> Iterator[T | str]:
    """Each item (span or log record) of an export as read(item, resource, scope, service name),
    or a message saying why it was rejected (see iter_json_request for `exact`)."""
    resources_key = camel(shape.resources)
    for r_index, resources in enumerate(_list(request, resources_key, shape.resources, resources_key)):
        resources = _object(resources, f"{resources_key}[{r_index}]")
        resource_obj = _object(resources.get("resource"), f"{resources_key}[{r_index}].resource")
        resource_unpaired = not exact and has_unpaired_surrogate(resource_obj)
        resource, resource_error = _resource_attributes(resource_obj, f"{resources_key}[{r_index}].resource")
        service = resource.get("service.name")
        service_name = service if isinstance(service, str) and service else None
        scopes_key, legacy_key = camel(shape.scopes), camel(shape.legacy_scopes)
        scope_list = _list(resources, scopes_key, shape.scopes, f"{resources_key}[{r_index}].{scopes_key}")
        # OTLP before 0.19 called scopes "instrumentation libraries"; old exporters still send that.
        scope_list += _list(resources, legacy_key, shape.legacy_scopes, f"{resources_key}[{r_index}].{legacy_key}")
        for c_index, scopes in enumerate(scope_list):
            at = f"{resources_key}[{r_index}].{scopes_key}[{c_index}]"
            scopes = _object(scopes, at)
            scope_obj = _object(
                scopes.get("scope") or _field(scopes, "instrumentationLibrary", "instrumentation_library"),
                f"{at}.scope",
            )
            scope, scope_error = _scope(scope_obj, at)
            scope_error = resource_error or scope_error
            scope_unpaired = "its resource" if resource_unpaired else None
            if not exact and scope_unpaired is None and has_unpaired_surrogate(scope_obj):
                scope_unpaired = "its scope"
            items_key = camel(shape.items)
            for i_index, item in enumerate(_list(scopes, items_key, shape.items, f"{at}.{items_key}")):
                try:
                    if not isinstance(item, dict):
                        raise SpanRejected(f"is {type(item).__name__}, not an object")
                    unpaired_in = scope_unpaired
                    if not exact and unpaired_in is None and has_unpaired_surrogate(item):
                        unpaired_in = f"the {shape.item}"
                    if unpaired_in is not None:
                        raise SpanRejected(_unpaired(unpaired_in))
                    if scope_error is not None:
                        raise SpanRejected(scope_error)
                    yield read(item, resource, scope, service_name)
                except SpanRejected as exc:
                    yield f"{_where(shape, r_index, scope, i_index, item)}: {exc}"
                except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
                    yield f"{_where(shape, r_index, scope, i_index, item)}: could not be read ({type(exc).__name__}: {exc})"


def iter_json_logs(request: dict[str, Any], *, exact: bool) -> Iterator[LogIn | str]:
    """Each log record of an OTLP/JSON ExportLogsServiceRequest as a LogIn for its span, or a
    message saying why it was rejected (see iter_json_request for `exact`)."""
    return iter_json_items(request, LOGS, _log_record, exact=exact)


def _log_record(
    record: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any], service_name: str | None
) -> LogIn:
    severity = record.get("severityText") or record.get("severity_text")
    if severity is not None and not isinstance(severity, str):
        raise SpanRejected("severityText is not a string")
    number = _enum(_field(record, "severityNumber", "severity_number"), SEVERITY_NUMBERS, 25)
    body = record.get("body")
    try:
        body = None if body is None else any_value(body)
    except ValueTooDeep:
        raise too_deep("the body") from None
    return build_log(
        trace_id=_field(record, "traceId", "trace_id"),
        span_id=_field(record, "spanId", "span_id"),
        time_ns=_uint64(_field(record, "timeUnixNano", "time_unix_nano"), "timeUnixNano"),
        observed_ns=_uint64(_field(record, "observedTimeUnixNano", "observed_time_unix_nano"), "observedTimeUnixNano"),
        severity=severity or severity_name(number),
        event_name=_field(record, "eventName", "event_name") or "",
        attributes=_key_values(record.get("attributes")),
        body=body,
        scope=scope,
    )


def _where(shape: ExportShape, r_index: int, scope: dict[str, Any], i_index: int, item: Any) -> str:
    name = _field(item, camel(shape.name), shape.name) if isinstance(item, dict) else None
    return where(r_index, scope, i_index, name, shape.item)


def _unpaired(where: str) -> str:
    return (
        f"a string in {where} holds an unpaired UTF-16 surrogate (such as \\ud800), which is not "
        "Unicode text and cannot be stored; send strings as valid UTF-8"
    )


def _resource_attributes(obj: dict[str, Any], at: str) -> tuple[dict[str, Any], str | None]:
    """The attributes of a resource or scope, and why its spans are rejected, if they are: a
    value nested too deeply. Any other fault is the request's: InvalidOtlp."""
    try:
        return _key_values(obj.get("attributes")), None
    except ValueTooDeep as exc:
        return {}, f"its {at.rsplit('.', 1)[-1]}: {exc}"
    except SpanRejected as exc:
        raise InvalidOtlp(f"{at} attributes: {exc}.") from exc


def _scope(scope_obj: dict[str, Any], at: str) -> tuple[dict[str, Any], str | None]:
    name, version = scope_obj.get("name") or "", scope_obj.get("version") or ""
    if not isinstance(name, str) or not isinstance(version, str):
        raise InvalidOtlp(f"{at}.scope name and version must be strings.")
    scope: dict[str, Any] = {"name": name, "version": version}
    attributes, error = _resource_attributes(scope_obj, f"{at}.scope")
    if attributes:
        scope["attributes"] = attributes
    return scope, error


def _span(span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any], service_name: str | None) -> SpanIn:
    status = span.get("status") or {}
    if not isinstance(status, dict):
        raise SpanRejected("status is not an object")
    message = status.get("message") or ""
    if not isinstance(message, str):
        raise SpanRejected("status.message is not a string")
    events = span.get("events") or []
    links = span.get("links") or []
    if not isinstance(events, list) or not isinstance(links, list):
        raise SpanRejected("events and links must be arrays")
    return build_span(
        trace_id=trace_id_of(_field(span, "traceId", "trace_id")),
        span_id=span_id_of(_field(span, "spanId", "span_id")),
        parent_span_id=parent_id_of(_field(span, "parentSpanId", "parent_span_id")),
        name=span.get("name"),
        start_ns=_uint64(_field(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
        end_ns=_uint64(_field(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
        kind=SPAN_KINDS[_enum(span.get("kind"), _KIND_NAMES, 6)],
        status_code=STATUS_CODES[_enum(status.get("code"), _STATUS_NAMES, 3)],
        status_message=message,
        attributes=_key_values(span.get("attributes")),
        events=[_event(event) for event in events],
        links=[_link(link) for link in links],
        resource=resource,
        scope=scope,
        service_name=service_name,
    )


def _event(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise SpanRejected("an event is not an object")
    name = event.get("name") or ""
    if not isinstance(name, str):
        raise SpanRejected("an event name is not a string")
    return {
        "name": name,
        "time_ns": _uint64(_field(event, "timeUnixNano", "time_unix_nano"), "event timeUnixNano"),
        "attributes": _key_values(event.get("attributes")),
    }


def _link(link: Any) -> dict[str, Any]:
    if not isinstance(link, dict):
        raise SpanRejected("a link is not an object")
    return {
        "trace_id": trace_id_of(_field(link, "traceId", "trace_id")),
        "span_id": span_id_of(_field(link, "spanId", "span_id"), "link spanId"),
        "attributes": _key_values(link.get("attributes")),
    }


def _uint64(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise SpanRejected(f"{what} {shown} is not a non-negative integer (a number or a string of digits)")


def _enum(value: Any, names: dict[str, int], size: int) -> int:
    # Unknown values read as the zero value (UNSPECIFIED / UNSET), as OTel receivers do.
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < size else 0
    if isinstance(value, str):
        return names.get(value.upper(), 0)
    return 0


_NOT_A_PAIR = "an attribute is not a {key, value} object with a string key"


def _key_values(pairs: Any, depth: int = 1) -> dict[str, Any]:
    if not pairs:
        return {}
    if not isinstance(pairs, list):
        raise SpanRejected("attributes must be an array of {key, value} objects")
    out: dict[str, Any] = {}
    for pair in pairs:
        if not isinstance(pair, dict):
            raise SpanRejected(_NOT_A_PAIR)
        # proto3 JSON leaves out a field at its default value, and accepts null for it: an
        # attribute without "key" is the attribute whose key is "".
        key = pair.get("key")
        if key is None:
            key = ""
        elif not isinstance(key, str):
            raise SpanRejected(_NOT_A_PAIR)
        try:
            out[key] = any_value(pair.get("value"), depth)
        except ValueTooDeep:
            if depth > 1:
                raise
            raise too_deep(f"attribute {key!r}") from None
    return out


def any_value(value: Any, depth: int = 1) -> Any:
    """An OTLP/JSON AnyValue as plain Python, matching what the protobuf path produces.
    ValueTooDeep past MAX_VALUE_DEPTH (`depth` counts this value)."""
    if depth > MAX_VALUE_DEPTH:
        raise too_deep("a value")
    if isinstance(value, dict):
        for key, inner in value.items():
            convert = _ANY_VALUE.get(key)
            if convert is not None:
                return convert(inner)
            container = _CONTAINERS.get(key)
            if container is not None:
                return container(inner, depth + 1)
        return None
    # Not an AnyValue object; some hand-written exporters send bare values. Keep scalars.
    if value is None or isinstance(value, str | bool | int | float):
        return _double(value) if isinstance(value, float) else value
    raise SpanRejected(f"attribute value of type {type(value).__name__} is not an AnyValue object")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise SpanRejected("stringValue is not a string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) <= 21:
        try:
            return int(value)
        except ValueError:
            pass
    raise SpanRejected(f"intValue {value!r:.40} is not an integer")


def _double(value: Any) -> float | str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SpanRejected("doubleValue is not a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise SpanRejected(f"doubleValue {value!r:.40} is not a number") from exc
    return number if math.isfinite(number) else nonfinite_text(number)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpanRejected("boolValue is not true or false")
    return value


def _bytes(value: Any) -> str:
    if not isinstance(value, str):
        raise SpanRejected("bytesValue is not a base64 string")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None)
    except (binascii.Error, ValueError) as exc:
        raise SpanRejected("bytesValue is not valid base64") from exc
    return base64.b64encode(raw).decode("ascii")


def _array(value: Any, depth: int) -> list[Any]:
    values = value.get("values") if isinstance(value, dict) else None
    if values is None:
        return []
    if not isinstance(values, list):
        raise SpanRejected("arrayValue.values is not an array")
    return [any_value(item, depth) for item in values]


def _kvlist(value: Any, depth: int) -> dict[str, Any]:
    values = value.get("values") if isinstance(value, dict) else None
    return _key_values(values, depth)


_ANY_VALUE: dict[str, Callable[[Any], Any]] = {
    "stringValue": _string,
    "intValue": _int,
    "doubleValue": _double,
    "boolValue": _bool,
    "bytesValue": _bytes,
    "string_value": _string,
    "int_value": _int,
    "double_value": _double,
    "bool_value": _bool,
    "bytes_value": _bytes,
}
# The values that hold values, given the depth of their items.
_CONTAINERS: dict[str, Callable[[Any, int], Any]] = {
    "arrayValue": _array,
    "kvlistValue": _kvlist,
    "array_value": _array,
    "kvlist_value": _kvlist,
}
