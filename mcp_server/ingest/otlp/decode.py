"""decode_request: one OTLP/HTTP trace export body in, the spans to store and the rejections out;
decode_logs_request: the same for a logs export, with the log records for their spans."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from mcp_server.ingest.otlp.from_json import iter_json_logs, iter_json_request
from mcp_server.ingest.otlp.from_protobuf import iter_protobuf_logs, iter_protobuf_request
from mcp_server.ingest.otlp.lazy_protobuf import parse_shallow, too_deep_to_parse
from mcp_server.ingest.otlp.shapes import LOGS, TRACES, ExportShape, camel
from mcp_server.ingest.semconv.values import load_json
from store.errors import InvalidOtlp
from store.incoming import SpanIn
from store.logs import LogIn

_REQUESTS: dict[ExportShape, type[Message]] = {TRACES: ExportTraceServiceRequest, LOGS: ExportLogsServiceRequest}


@dataclass(slots=True)
class DecodedBatch:
    """The spans of one export that can be stored, and one message per span that cannot."""

    spans: list[SpanIn] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def decode_request(body: bytes | bytearray, encoding: Literal["protobuf", "json"]) -> DecodedBatch:
    """Decode an ExportTraceServiceRequest body; a bad span is rejected alone, its neighbours kept.

    Raises InvalidOtlp when the body as a whole cannot be read as an OTLP trace export.
    """
    return next(batches(parse_request(body, encoding), max_spans=None), DecodedBatch())


@dataclass(slots=True)
class DecodedLogs:
    """The log records of one export that can be kept, and one message per record that cannot."""

    logs: list[LogIn] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def decode_logs_request(body: bytes | bytearray, encoding: Literal["protobuf", "json"]) -> DecodedLogs:
    """Decode an ExportLogsServiceRequest body; a bad record is rejected alone, its neighbours kept.

    Raises InvalidOtlp when the body as a whole cannot be read as an OTLP logs export.
    """
    decoded = DecodedLogs()
    for item in parse_request(body, encoding, LOGS):
        (decoded.rejected if isinstance(item, str) else decoded.logs).append(item)
    return decoded


_WALKERS: dict[ExportShape, tuple[Callable[[Message], Iterator[Any]], Callable[..., Iterator[Any]]]] = {
    TRACES: (iter_protobuf_request, iter_json_request),
    LOGS: (iter_protobuf_logs, iter_json_logs),
}


def parse_request(
    body: bytes | bytearray, encoding: Literal["protobuf", "json"], shape: ExportShape = TRACES
) -> Iterator[Any]:
    """Parse the body now (InvalidOtlp if it is not an export of `shape` at all); its items are then
    converted one at a time as the iterator is read, each a SpanIn (a LogIn for logs) or a message
    saying why it was rejected.

    The body is no longer needed once this returns. An OTLP/JSON body whose later parts lack the
    request's shape raises InvalidOtlp while it is iterated (see iter_json_request).
    """
    protobuf_walker, json_walker = _WALKERS[shape]
    if encoding == "protobuf":
        return protobuf_walker(parse_protobuf(body, shape))
    if encoding == "json":
        request, exact = parse_json(body, shape)
        return json_walker(request, exact=exact)
    raise InvalidOtlp(f"encoding {encoding!r} is not supported; use 'protobuf' or 'json'.")


DECODE_MEMORY_FACTOR = 32
"""Memory an export body may take while it is parsed and stored, as a multiple of its bytes (the
parsed request and its spans as Python objects); the HTTP endpoint charges its body budget this
much per body byte. The worst shape bench/export_memory.py measures: a 16 MiB export of kvlists
nested 32 deep raised the server's peak RSS by 31.8x its size (arrays of empty values 29.4x, JSON
of many empty objects 31.4x, 2,000 tiny attributes per span 20.5x; realistic GenAI spans 2.6x).
Clients are untrusted, so the budget assumes the worst; see BENCHMARKS.md."""

BATCH_SPANS = 512
"""Spans per stored batch: a BatchSpanProcessor's default export is one batch, as before."""
BATCH_CHARS = 8_000_000
"""About this many characters of span content close a batch early, so a large export's working set
(its spans as objects, their rows, their index text) stays a few megabytes, whatever its size."""


def batches(
    items: Iterable[SpanIn | str], *, max_spans: int | None = BATCH_SPANS, max_chars: int = BATCH_CHARS
) -> Iterator[DecodedBatch]:
    """The items in batches of at most max_spans spans (None: one batch), or fewer once they hold
    about max_chars characters; each rejection goes with the batch it came in."""
    batch = DecodedBatch()
    chars = 0
    for item in items:
        if isinstance(item, str):
            batch.rejected.append(item)
            continue
        batch.spans.append(item)
        if max_spans is None:
            continue
        chars += _chars(item)
        if len(batch.spans) >= max_spans or chars >= max_chars:
            yield batch
            batch = DecodedBatch()
            chars = 0
    if batch.spans or batch.rejected:
        yield batch


def _chars(span: SpanIn) -> int:
    """A cheap estimate of a span's size: its payloads and string attributes (most of any span)."""
    size = len(span.inputs_json or "") + len(span.outputs_json or "")
    return size + sum(len(value) for value in span.attributes.values() if isinstance(value, str))


def parse_protobuf(body: bytes | bytearray, shape: ExportShape = TRACES) -> Message:
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
