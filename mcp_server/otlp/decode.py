"""decode_request: one OTLP/HTTP trace export body in, the spans to store and the rejections out;
decode_logs_request: the same for a logs export, with the log records for their spans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from mcp_server.otlp.from_json import iter_json_logs, iter_json_request
from mcp_server.otlp.from_protobuf import iter_protobuf_logs, iter_protobuf_request
from mcp_server.otlp.lazy_protobuf import parse_shallow, too_deep_to_parse
from mcp_server.otlp.shapes import LOGS, TRACES, ExportShape, camel
from mcp_server.semconv.values import load_json
from store.errors import InvalidOtlp
from store.ingest import SpanIn
from store.logs import LogIn

_REQUESTS: dict[ExportShape, type[Message]] = {TRACES: ExportTraceServiceRequest, LOGS: ExportLogsServiceRequest}


@dataclass(slots=True)
class DecodedBatch:
    """The spans of one export that can be stored, and one message per span that cannot."""

    spans: list[SpanIn] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def decode_request(body: bytes, encoding: Literal["protobuf", "json"]) -> DecodedBatch:
    """Decode an ExportTraceServiceRequest body; a bad span is rejected alone, its neighbours kept.

    Raises InvalidOtlp when the body as a whole cannot be read as an OTLP trace export.
    """
    spans, rejected = _decode(body, encoding, TRACES)
    return DecodedBatch(spans, rejected)


@dataclass(slots=True)
class DecodedLogs:
    """The log records of one export that can be kept, and one message per record that cannot."""

    logs: list[LogIn] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def decode_logs_request(body: bytes, encoding: Literal["protobuf", "json"]) -> DecodedLogs:
    """Decode an ExportLogsServiceRequest body; a bad record is rejected alone, its neighbours kept.

    Raises InvalidOtlp when the body as a whole cannot be read as an OTLP logs export.
    """
    logs, rejected = _decode(body, encoding, LOGS)
    return DecodedLogs(logs, rejected)


_WALKERS: dict[ExportShape, tuple[Callable[[Message], Iterator[Any]], Callable[..., Iterator[Any]]]] = {
    TRACES: (iter_protobuf_request, iter_json_request),
    LOGS: (iter_protobuf_logs, iter_json_logs),
}


def _decode(body: bytes, encoding: str, shape: ExportShape) -> tuple[list[Any], list[str]]:
    protobuf_walker, json_walker = _WALKERS[shape]
    if encoding == "protobuf":
        items = protobuf_walker(parse_protobuf(body, shape))
    elif encoding == "json":
        request, exact = parse_json(body, shape)
        items = json_walker(request, exact=exact)
    else:
        raise InvalidOtlp(f"encoding {encoding!r} is not supported; use 'protobuf' or 'json'.")
    kept: list[Any] = []
    rejected: list[str] = []
    for item in items:
        (rejected if isinstance(item, str) else kept).append(item)
    return kept, rejected


def parse_protobuf(body: bytes, shape: ExportShape = TRACES) -> Message:
    """The body as the export request message of `shape` (or, where a value nests too deeply to
    parse it whole, its shallow form: see lazy_protobuf), or InvalidOtlp saying what to send."""
    request = _REQUESTS[shape]()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        request = _shallow_or_invalid(body, exc, shape)
    # Protobuf parses many byte strings without complaint (as unknown fields); an export that
    # carries something always has resources, and an empty export serializes to no bytes.
    if body and not getattr(request, shape.resources):
        raise InvalidOtlp(_not_protobuf(body, f"it holds no {shape.resources}", shape))
    return request


def _shallow_or_invalid(body: bytes, exc: Exception, shape: ExportShape) -> Message:
    """The body in the export's shallow form if it failed only on nesting, else InvalidOtlp."""
    if too_deep_to_parse(exc):
        try:
            return parse_shallow(shape, body)
        except DecodeError:
            pass
    raise InvalidOtlp(_not_protobuf(body, f"it does not parse as protobuf ({exc})", shape)) from exc


def _not_protobuf(body: bytes, why: str, shape: ExportShape) -> str:
    hint = ""
    if body.lstrip()[:1] in (b"{", b"["):
        hint = " It looks like JSON: send it with Content-Type: application/json."
    return (
        f"the body is not an OTLP {_short_name(shape)} in protobuf: {why}.{hint} "
        f"Send the bytes of {shape.message} with Content-Type: application/x-protobuf."
    )


def parse_json(body: bytes | str, shape: ExportShape = TRACES) -> tuple[dict[str, Any], bool]:
    """The body as an OTLP/JSON object with the export's resources (resourceSpans, resourceLogs),
    and whether it was read exactly (see load_json: if not, the walker checks each item's
    strings); or InvalidOtlp saying what to send."""
    try:
        obj, exact = load_json(body)
    except ValueError as exc:
        raise InvalidOtlp(
            f"the body is not valid JSON ({_short(exc)}); send an OTLP/JSON "
            f"{_example(shape)}, or protobuf with Content-Type: application/x-protobuf."
        ) from exc
    check_json_request(obj, shape)
    return obj, exact


def check_json_request(obj: Any, shape: ExportShape = TRACES) -> None:
    """InvalidOtlp unless obj has the shape of an OTLP/JSON export of that signal."""
    if not isinstance(obj, dict):
        raise InvalidOtlp(
            f"the JSON body is {type(obj).__name__ if obj is not None else 'null'}, not an object; "
            f"send an OTLP/JSON {_example(shape)}."
        )
    if camel(shape.resources) not in obj and shape.resources not in obj:
        keys = ", ".join(repr(k) for k in list(obj)[:5]) or "none"
        hint = " For MLflow trace files use `tracejudge import`." if shape is TRACES else ""
        for other, path in ((TRACES, "/v1/traces"), (LOGS, "/v1/logs")):
            if other is not shape and (camel(other.resources) in obj or other.resources in obj):
                hint = f" This is an OTLP {_short_name(other)}: POST it to {path}."
        raise InvalidOtlp(
            f"the JSON object has no {camel(shape.resources)} (its keys: {keys}); send an OTLP/JSON "
            f"{_example(shape)}.{hint}"
        )


def _short_name(shape: ExportShape) -> str:
    return shape.message.rsplit(".", 1)[-1]


def _example(shape: ExportShape) -> str:
    return f'{_short_name(shape)} such as {{"{camel(shape.resources)}": [...]}}'


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
