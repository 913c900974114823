"""`tracejudge import FILE...`: trace files into the store, each file on its own.

Formats are told apart by content, not by name:
- OTLP/JSON: one ExportTraceServiceRequest object, or JSON lines of them (the OTel Collector's
  file exporter writes these);
- OTLP protobuf: one binary ExportTraceServiceRequest, or a stream of them each preceded by its
  4-byte big-endian length (the Collector's file exporter with `format: proto`);
- MLflow traces: `Trace.to_json()` output ({"info": ..., "data": {"spans": [...]}}), one per file,
  a JSON array of them, or JSON lines; span dicts of MLflow 2 (`context`, 0x-hex ids), MLflow 3
  (protobuf-style, base64 ids) and MLflow 3.x later (hex ids, `otel_trace_id`) are all read.

Spans are written in batches (BATCH_SPANS per transaction), so memory stays bounded by the
largest single JSON document or protobuf message, which is read once. A bad span is reported
and skipped; a bad file is reported and the next one is read.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mcp_server.ingest.otlp import InvalidOtlp, iter_json_request, iter_protobuf_request, parse_protobuf
from mcp_server.ingest.otlp.decode import check_json_request
from mcp_server.ingest.otlp.span_parts import SpanRejected, build_span, parent_id_of, span_id_of, trace_id_of
from mcp_server.ingest.semconv.values import as_tag_value, as_text, has_unpaired_surrogate, load_json
from store import Database, SpanIn, write_spans
from store.errors import InvalidId, TraceJudgeError
from store.ids import normalize_trace_id

BATCH_SPANS = 2000
"""Spans per write transaction: large enough to amortize a commit, small enough to bound memory."""


@dataclass
class FileReport:
    """What one file gave: spans written, one message per span rejected, or why it was unreadable."""

    path: str
    format: str | None = None
    spans_written: int = 0
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def spans_rejected(self) -> int:
        return len(self.rejected)


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def spans_written(self) -> int:
        return sum(f.spans_written for f in self.files)

    @property
    def spans_rejected(self) -> int:
        return sum(f.spans_rejected for f in self.files)

    @property
    def failed_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]


def import_files(db: Database, paths: Iterable[str | Path], *, batch_spans: int = BATCH_SPANS) -> ImportReport:
    """Import each file into the store; a file that cannot be read is reported, never fatal."""
    report = ImportReport()
    for path in paths:
        report.files.append(import_file(db, Path(path), batch_spans=batch_spans))
    return report


def import_file(db: Database, path: Path, *, batch_spans: int = BATCH_SPANS) -> FileReport:
    """Import one file (see the module docstring for the formats it recognizes)."""
    report = FileReport(str(path))
    pending: list[SpanIn] = []

    def flush() -> None:
        if pending:
            report.spans_written += write_spans(db, pending).spans_written
            pending.clear()

    try:
        with path.open("rb") as stream:
            for item in _items(stream, report):
                if isinstance(item, str):
                    report.rejected.append(item)
                else:
                    pending.append(item)
                    if len(pending) >= batch_spans:
                        flush()
        flush()
    except OSError as exc:
        report.error = f"cannot read {path}: {exc.strerror or exc}."
    except (TraceJudgeError, ValueError) as exc:
        flush()
        report.error = f"{path}: {exc}"
    except sqlite3.Error as exc:
        report.error = f"{path}: the store refused a batch ({exc}); spans before it were written."
    return report


def _first_byte(stream: BinaryIO) -> bytes:
    head = stream.read(4096)
    stream.seek(0)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]


def _items(stream: BinaryIO, report: FileReport) -> Iterator[SpanIn | str]:
    first = _first_byte(stream)
    if not first:
        raise ValueError("the file is empty; nothing to import.")
    if first in (b"{", b"["):
        yield from _json_items(stream, report)
    else:
        report.format = "otlp-protobuf"
        yield from _protobuf_items(stream.read())


def _json_items(stream: BinaryIO, report: FileReport) -> Iterator[SpanIn | str]:
    line = stream.readline()
    try:
        first, exact = load_json(line)
    except ValueError:
        # Not one document per line: the whole file is one (pretty-printed) document.
        stream.seek(0)
        yield from _document(*_load_file(stream.read()), "", report)
        return
    yield from _document(first, exact, "line 1: ", report)
    for number, line in enumerate(stream, start=2):
        if not line.strip():
            continue
        try:
            document, exact = load_json(line)
        except ValueError as exc:
            yield f"line {number}: not valid JSON ({exc}); the line was skipped"
            continue
        yield from _document(document, exact, f"line {number}: ", report)


def _load_file(data: bytes) -> tuple[Any, bool]:
    try:
        return load_json(data)
    except ValueError as exc:
        raise ValueError(
            f"the file is not valid JSON ({exc}); import OTLP/JSON, OTLP protobuf or MLflow "
            "trace JSON (Trace.to_json())."
        ) from exc


def _document(document: Any, exact: bool, where: str, report: FileReport) -> Iterator[SpanIn | str]:
    """The spans of one JSON document; `exact` is load_json's (see iter_json_request)."""
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        at = f"{where}item {index}: " if isinstance(document, list) else where
        if isinstance(item, dict) and ("resourceSpans" in item or "resource_spans" in item):
            report.format = report.format or "otlp-json"
            check_json_request(item)
            for found in iter_json_request(item, exact=exact):
                yield found if not isinstance(found, str) else at + found
        elif isinstance(item, dict) and "info" in item and "data" in item:
            report.format = report.format or "mlflow"
            yield from _mlflow_trace(item, exact, at, report)
        else:
            shown = f"keys {', '.join(map(repr, list(item)[:5]))}" if isinstance(item, dict) else type(item).__name__
            raise ValueError(
                f"{at}this JSON ({shown}) is neither an OTLP export (resourceSpans) nor an MLflow "
                'trace ({"info": ..., "data": {"spans": [...]}}); nothing of it was imported.'
            )


def _protobuf_items(data: bytes) -> Iterator[SpanIn | str]:
    # A single message starts with field 1 (resource_spans, length-delimited): byte 0x0A. A
    # length-prefixed stream starts with the high byte of a 4-byte size, 0x00 for any real size.
    if data[:1] != b"\x00":
        yield from iter_protobuf_request(parse_protobuf(data))
        return
    offset, number = 0, 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        chunk = data[offset + 4 : offset + 4 + size]
        if len(chunk) != size:
            raise InvalidOtlp(f"message {number} of the length-prefixed stream is cut short.")
        for found in iter_protobuf_request(parse_protobuf(chunk)):
            yield found if not isinstance(found, str) else f"message {number}: {found}"
        offset += 4 + size
        number += 1


# MLflow trace JSON ------------------------------------------------------------------------------


def _mlflow_trace(trace: dict[str, Any], exact: bool, where: str, report: FileReport) -> Iterator[SpanIn | str]:
    info, data = trace.get("info"), trace.get("data")
    if not isinstance(info, dict) or not isinstance(data, dict) or not isinstance(data.get("spans"), list):
        raise ValueError(f'{where}an MLflow trace needs "info" (an object) and "data": {{"spans": [...]}}.')
    trace_id = _mlflow_trace_id(info.get("trace_id") or info.get("request_id"))
    tags = info.get("tags") if isinstance(info.get("tags"), dict) else {}
    metadata = info.get("trace_metadata") or info.get("request_metadata") or {}
    metadata = metadata if isinstance(metadata, dict) else {}
    if info.get("assessments"):
        report.notes.append(
            f"{where}trace {trace_id or '?'}: {len(info['assessments'])} assessments were not imported "
            "(spans, tags and metadata were)."
        )
    # Trace facts travel on the first span; strings no store can hold reject the spans carrying them.
    info_unpaired = not exact and has_unpaired_surrogate(info)
    facts_given = False
    for index, span in enumerate(data["spans"]):
        try:
            if not isinstance(span, dict):
                raise SpanRejected(f"is {type(span).__name__}, not an object")
            if info_unpaired or (not exact and has_unpaired_surrogate(span)):
                where_found = "the trace info" if info_unpaired else "the span"
                raise SpanRejected(
                    f"a string in {where_found} holds an unpaired UTF-16 surrogate (such as \\ud800), "
                    "which is not Unicode text and cannot be stored"
                )
            converted = _mlflow_span(span, trace_id)
        except SpanRejected as exc:
            name = span.get("name") if isinstance(span, dict) else None
            yield f"{where}MLflow trace {trace_id or '?'} span {index} {name!r}: {exc}"
            continue
        except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            yield f"{where}MLflow trace {trace_id or '?'} span {index}: could not be read ({exc})"
            continue
        if not facts_given:
            # Trace-level facts travel on one span; the store keeps them per trace.
            converted.trace_tags.update({str(k): as_tag_value(v) for k, v in tags.items()})
            converted.trace_metadata.update({str(k): as_tag_value(v) for k, v in metadata.items()})
            converted.session_id = as_text(metadata.get("mlflow.trace.session")) or converted.session_id
            converted.user_id = as_text(metadata.get("mlflow.trace.user")) or converted.user_id
            facts_given = True
        yield converted


def _mlflow_trace_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    # MLflow 3 v4 ids locate the trace: "trace:/<location>/<otel trace id hex>".
    candidate = value.rsplit("/", 1)[-1] if value.startswith("trace:/") else value
    try:
        return normalize_trace_id(candidate)
    except InvalidId:
        return None


def _strip_0x(value: Any) -> Any:
    return value[2:] if isinstance(value, str) and value[:2] in ("0x", "0X") else value


def _mlflow_span(span: dict[str, Any], trace_id: str | None) -> SpanIn:
    if "context" in span:  # MLflow 2 span dict
        context = span["context"] if isinstance(span["context"], dict) else {}
        span_trace, span_id = context.get("trace_id"), context.get("span_id")
        parent = span.get("parent_id")
        start, end = span.get("start_time"), span.get("end_time")
        status, message = span.get("status_code"), span.get("status_message")
        events = [(e.get("name"), e.get("timestamp"), e.get("attributes")) for e in span.get("events") or []]
    else:  # MLflow 3: protobuf-style (base64 ids) or later dicts (hex ids, otel_trace_id)
        span_trace = span.get("otel_trace_id") or span.get("trace_id")
        span_id, parent = span.get("span_id"), span.get("parent_span_id")
        start, end = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
        status_obj = span.get("status") if isinstance(span.get("status"), dict) else {}
        status, message = status_obj.get("code"), status_obj.get("message")
        events = [(e.get("name"), e.get("time_unix_nano"), e.get("attributes")) for e in span.get("events") or []]
    attributes = span.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise SpanRejected("attributes is not an object")
    return build_span(
        trace_id=trace_id or trace_id_of(_strip_0x(span_trace)),
        span_id=span_id_of(_strip_0x(span_id)),
        parent_span_id=parent_id_of(_strip_0x(parent)),
        name=span.get("name"),
        start_ns=_nanos(start, "start time"),
        end_ns=_nanos(end, "end time"),
        kind="INTERNAL",
        status_code=_status(status),
        status_message=message if isinstance(message, str) else "",
        attributes=dict(attributes),
        events=[
            {"name": name or "", "time_ns": _nanos(time, "event time"), "attributes": attrs if isinstance(attrs, dict) else {}}
            for name, time, attrs in events
        ],
        links=[],
        resource={},
        scope={},
        service_name=None,
    )


def _nanos(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return int(value)
    raise SpanRejected(f"{what} {value!r:.40} is not nanoseconds since the epoch")


def _status(value: Any) -> str:
    if isinstance(value, str):
        code = value.upper().removeprefix("STATUS_CODE_").removeprefix("STATUSCODE.")
        return code if code in ("OK", "ERROR") else "UNSET"
    if isinstance(value, int):
        return {1: "OK", 2: "ERROR"}.get(value, "UNSET")
    return "UNSET"
