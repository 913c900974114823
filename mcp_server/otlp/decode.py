"""decode_request: one OTLP/HTTP trace export body in, the spans to store and the rejections out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from mcp_server.otlp.from_json import iter_json_request
from mcp_server.otlp.from_protobuf import iter_protobuf_request
from mcp_server.semconv.values import load_json
from store.errors import InvalidOtlp
from store.ingest import SpanIn


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


def parse_request(body: bytes | bytearray, encoding: Literal["protobuf", "json"]) -> Iterator[SpanIn | str]:
    """Parse the body now (InvalidOtlp if it is not an export at all); its spans are then converted
    one at a time as the iterator is read, each a SpanIn or a message saying why it was rejected.

    The body is no longer needed once this returns. An OTLP/JSON body whose later parts lack the
    request's shape raises InvalidOtlp while it is iterated (see iter_json_request).
    """
    if encoding == "protobuf":
        return iter_protobuf_request(parse_protobuf(body))
    if encoding == "json":
        request, exact = parse_json(body)
        return iter_json_request(request, exact=exact)
    raise InvalidOtlp(f"encoding {encoding!r} is not supported; use 'protobuf' or 'json'.")


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


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    """The body as an ExportTraceServiceRequest message, or InvalidOtlp saying what to send."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise InvalidOtlp(_not_protobuf(body, f"it does not parse as protobuf ({exc})")) from exc
    # Protobuf parses many byte strings without complaint (as unknown fields); an export that
    # carries something always has resource_spans, and an empty export serializes to no bytes.
    if body and not request.resource_spans:
        raise InvalidOtlp(_not_protobuf(body, "it holds no resource_spans"))
    return request


def _not_protobuf(body: bytes, why: str) -> str:
    hint = ""
    if body.lstrip()[:1] in (b"{", b"["):
        hint = " It looks like JSON: send it with Content-Type: application/json."
    return (
        f"the body is not an OTLP ExportTraceServiceRequest in protobuf: {why}.{hint} "
        "Send the bytes of opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest "
        "with Content-Type: application/x-protobuf."
    )


def parse_json(body: bytes | str) -> tuple[dict[str, Any], bool]:
    """The body as an OTLP/JSON object with resourceSpans, and whether it was read exactly (see
    load_json: if not, iter_json_request checks each span's strings); or InvalidOtlp saying what
    to send."""
    try:
        obj, exact = load_json(body)
    except ValueError as exc:
        raise InvalidOtlp(
            f"the body is not valid JSON ({_short(exc)}); send an OTLP/JSON "
            'ExportTraceServiceRequest such as {"resourceSpans": [...]}, or protobuf with '
            "Content-Type: application/x-protobuf."
        ) from exc
    check_json_request(obj)
    return obj, exact


def check_json_request(obj: Any) -> None:
    """InvalidOtlp unless obj has the shape of an OTLP/JSON trace export."""
    if not isinstance(obj, dict):
        raise InvalidOtlp(
            f"the JSON body is {type(obj).__name__ if obj is not None else 'null'}, not an object; "
            'send an OTLP/JSON ExportTraceServiceRequest such as {"resourceSpans": [...]}.'
        )
    if "resourceSpans" not in obj and "resource_spans" not in obj:
        keys = ", ".join(repr(k) for k in list(obj)[:5]) or "none"
        raise InvalidOtlp(
            f"the JSON object has no resourceSpans (its keys: {keys}); send an OTLP/JSON "
            'ExportTraceServiceRequest such as {"resourceSpans": [...]}. For MLflow trace '
            "files use `tracejudge import`."
        )


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
