"""decode_request: one OTLP/HTTP trace export body in, the spans to store and the rejections out."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Literal

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from mcp_server.otlp.from_json import iter_json_request
from mcp_server.otlp.from_protobuf import iter_protobuf_request
from mcp_server.otlp.lazy_protobuf import SHALLOW_TRACES, too_deep_to_parse
from mcp_server.semconv.values import load_json
from store.errors import InvalidOtlp
from store.ingest import SpanIn


@dataclass(slots=True)
class DecodedBatch:
    """The spans of one export that can be stored, and one message per span that cannot."""

    spans: list[SpanIn] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def decode_request(body: bytes, encoding: Literal["protobuf", "json"]) -> DecodedBatch:
    """Decode an ExportTraceServiceRequest body; a bad span is rejected alone, its neighbours kept.

    Raises InvalidOtlp when the body as a whole cannot be read as an OTLP trace export.
    """
    if encoding == "protobuf":
        items = iter_protobuf_request(parse_protobuf(body))
    elif encoding == "json":
        request, exact = parse_json(body)
        items = iter_json_request(request, exact=exact)
    else:
        raise InvalidOtlp(f"encoding {encoding!r} is not supported; use 'protobuf' or 'json'.")
    batch = DecodedBatch()
    for item in items:
        if isinstance(item, str):
            batch.rejected.append(item)
        else:
            batch.spans.append(item)
    return batch


def parse_protobuf(body: bytes) -> Message:
    """The body as an ExportTraceServiceRequest message (or, where a value nests too deeply to
    parse it whole, its shallow form: see lazy_protobuf), or InvalidOtlp saying what to send."""
    request: Message = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        request = _shallow_or_invalid(body, exc, SHALLOW_TRACES, _not_protobuf)
    # Protobuf parses many byte strings without complaint (as unknown fields); an export that
    # carries something always has resource_spans, and an empty export serializes to no bytes.
    if body and not request.resource_spans:  # type: ignore[attr-defined]
        raise InvalidOtlp(_not_protobuf(body, "it holds no resource_spans"))
    return request


def _shallow_or_invalid(
    body: bytes, exc: Exception, shallow: type[Message], not_protobuf: Callable[[bytes, str], str]
) -> Message:
    """The body in the export's shallow form if it failed only on nesting, else InvalidOtlp."""
    if too_deep_to_parse(exc):
        try:
            return shallow.FromString(body)
        except DecodeError:
            pass
    raise InvalidOtlp(not_protobuf(body, f"it does not parse as protobuf ({exc})")) from exc


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
