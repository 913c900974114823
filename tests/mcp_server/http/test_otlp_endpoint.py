"""OTLP/HTTP ingest through the real endpoint: the real OpenTelemetry exporter, JSON, compression,
chunked bodies, limits, and partial success."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx2
from google.rpc import status_pb2
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mcp_server.ingest.otlp import DECODE_MEMORY_FACTOR
from tests.support.live_server import LiveServer
from tests.support.raw_http import stalled_body

TRACE_ID = "5b8efff798038103d269b633813fc60c"
ROOT_ID = "eee19b7ec3c1b174"
CHILD_ID = "eee19b7ec3c1b173"


def _count(server: LiveServer, sql: str = "SELECT count(*) FROM spans") -> int:
    return server.db.reader().execute(sql).fetchone()[0]


def _span_json(span_id: str, parent: str = "", name: str = "step", trace_id: str = TRACE_ID) -> dict:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": "input.value", "value": {"stringValue": "Why was I charged for roaming?"}}],
        "status": {},
    }


def _request_json(*spans: dict) -> bytes:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support"}}]},
                    "scopeSpans": [{"scope": {"name": "test"}, "spans": list(spans)}],
                }
            ]
        }
    ).encode()


def _provider(server: LiveServer, compression: Compression) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "telecom-support"}))
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", compression=compression, timeout=10)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_real_otel_exporter_spans_are_stored_with_their_tree(live_server: LiveServer) -> None:
    provider = _provider(live_server, Compression.Gzip)
    tracer = provider.get_tracer("support-agent")
    with tracer.start_as_current_span("invoke_agent support_router") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span("execute_tool lookup_invoice") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "lookup_invoice")
            tool.record_exception(TimeoutError("billing backend timed out"))
            tool.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, "timeout"))
    provider.shutdown()

    trace_id = f"{root.get_span_context().trace_id:032x}"
    rows = live_server.db.reader().execute(
        "SELECT span_id, parent_span_id, name, span_type, status_code, tool_name, events "
        "FROM spans WHERE trace_id = ? ORDER BY start_ns",
        (trace_id,),
    ).fetchall()
    assert [r["name"] for r in rows] == ["invoke_agent support_router", "execute_tool lookup_invoice"]
    assert rows[1]["parent_span_id"] == rows[0]["span_id"] == f"{root.get_span_context().span_id:016x}"
    assert rows[1]["span_type"] == "TOOL" and rows[1]["tool_name"] == "lookup_invoice"
    assert rows[1]["status_code"] == "ERROR"
    assert "billing backend timed out" in rows[1]["events"]
    trace = live_server.db.reader().execute("SELECT * FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
    assert (trace["span_count"], trace["error_count"], trace["status"]) == (2, 1, "OK")
    assert trace["service_name"] == "telecom-support"


def test_uncompressed_protobuf_export_is_acknowledged_with_an_empty_response(live_server: LiveServer) -> None:
    provider = _provider(live_server, Compression.NoCompression)
    with provider.get_tracer("t").start_as_current_span("plain"):
        pass
    provider.shutdown()
    assert _count(live_server) == 1


def test_json_export_answers_in_json_and_accepts_uppercase_and_base64_ids(live_server: LiveServer) -> None:
    body = _request_json(
        _span_json(ROOT_ID.upper(), name="root", trace_id=TRACE_ID.upper()),
        _span_json("7uGbfsPBsXM=", parent=ROOT_ID, name="child"),
    )
    response = httpx2.post(f"{live_server.url}/v1/traces", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    ids = {r[0] for r in live_server.db.reader().execute("SELECT span_id FROM spans WHERE trace_id = ?", (TRACE_ID,))}
    assert ids == {ROOT_ID, CHILD_ID}


def test_chunked_body_without_content_length_is_read(live_server: LiveServer) -> None:
    body = _request_json(_span_json(ROOT_ID))

    def chunks():
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    response = httpx2.post(f"{live_server.url}/v1/traces", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert "content-length" not in response.request.headers
    assert _count(live_server) == 1


def test_gzip_and_deflate_bodies_are_decompressed(live_server: LiveServer) -> None:
    for encoding, data in (
        ("gzip", gzip.compress(_request_json(_span_json(ROOT_ID)))),
        ("deflate", zlib.compress(_request_json(_span_json(CHILD_ID, parent=ROOT_ID)))),
    ):
        response = httpx2.post(
            f"{live_server.url}/v1/traces",
            content=data,
            headers={"content-type": "application/json", "content-encoding": encoding},
        )
        assert response.status_code == 200, (encoding, response.text)
    assert _count(live_server) == 2


def test_a_bad_span_is_reported_in_partial_success_and_its_neighbours_are_stored(live_server: LiveServer) -> None:
    body = _request_json(_span_json(ROOT_ID), _span_json("not-an-id", name="broken"), _span_json(CHILD_ID, ROOT_ID))
    response = httpx2.post(f"{live_server.url}/v1/traces", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1
    assert "not-an-id" in partial["errorMessage"]
    assert _count(live_server) == 2


def test_partial_success_in_protobuf_answer(live_server: LiveServer) -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for span_id in (bytes.fromhex(ROOT_ID), b"\x01\x02"):  # the second is 2 bytes: not a span id
        spans.add(
            trace_id=bytes.fromhex(TRACE_ID), span_id=span_id, name="step",
            start_time_unix_nano=1, end_time_unix_nano=2,
        )  # fmt: skip
    response = httpx2.post(
        f"{live_server.url}/v1/traces",
        content=request.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "span_id" in answer.partial_success.error_message
    assert _count(live_server) == 1


def test_unreadable_body_is_400_with_a_status_message_and_stores_nothing(live_server: LiveServer) -> None:
    response = httpx2.post(
        f"{live_server.url}/v1/traces", content=b"\xff\x00 not protobuf", headers={"content-type": "application/x-protobuf"}
    )
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3 and status.message
    response = httpx2.post(f"{live_server.url}/v1/traces", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"]
    assert _count(live_server) == 0


def test_unsupported_media_type_and_encoding_are_415_naming_what_to_send(live_server: LiveServer) -> None:
    response = httpx2.post(f"{live_server.url}/v1/traces", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "application/x-protobuf" in response.json()["message"]
    response = httpx2.post(
        f"{live_server.url}/v1/traces",
        content=b"x",
        headers={"content-type": "application/json", "content-encoding": "br"},
    )
    assert response.status_code == 415
    assert "gzip" in response.json()["message"]


def test_corrupt_gzip_is_400(live_server: LiveServer) -> None:
    response = httpx2.post(
        f"{live_server.url}/v1/traces",
        content=gzip.compress(b"{}")[:-6],
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 400
    assert "gzip" in response.json()["message"]


def test_oversized_body_and_gzip_bomb_are_413_and_the_store_is_unchanged(start_server) -> None:
    server = start_server(max_body_bytes=10_000)
    httpx2.post(f"{server.url}/v1/traces", content=_request_json(_span_json(ROOT_ID)), headers={"content-type": "application/json"})
    big = _request_json(*[_span_json(f"{i + 1:016x}") for i in range(200)])
    assert len(big) > 10_000
    response = httpx2.post(f"{server.url}/v1/traces", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "10,000 bytes" in response.json()["message"]
    bomb = gzip.compress(b" " * 5_000_000)  # about 5 KB that inflate to 5 MB
    assert len(bomb) < 10_000
    response = httpx2.post(
        f"{server.url}/v1/traces",
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 413
    assert "decompressed" in response.json()["message"]
    assert _count(server) == 1


def test_the_same_span_sent_twice_is_one_row(live_server: LiveServer) -> None:
    body = _request_json(_span_json(ROOT_ID))
    for _ in range(2):
        assert httpx2.post(f"{live_server.url}/v1/traces", content=body, headers={"content-type": "application/json"}).status_code == 200
    assert _count(live_server) == 1
    assert _count(live_server, "SELECT span_count FROM traces") == 1


def test_stalled_uploads_hold_only_what_they_sent_and_past_the_budget_exports_get_503(start_server) -> None:
    """Six stalled uploads used to hold every slot; now a slot is bytes, and they sent few."""
    import time

    server = start_server(max_body_bytes=40_000, max_buffered_body_bytes=50_000)
    body = _request_json(_span_json(ROOT_ID))
    headers = {"content-type": "application/json"}
    stalled = [stalled_body(server, "/v1/traces", body[:10]) for _ in range(6)]
    try:
        response = httpx2.post(f"{server.url}/v1/traces", content=body, headers=headers)
        assert response.status_code == 200, response.text
        stalled.append(stalled_body(server, "/v1/traces", b" " * 30_000))
        big = _request_json(_span_json(CHILD_ID, ROOT_ID)).ljust(30_000)
        deadline = time.monotonic() + 20
        while True:  # bounded poll until the server holds the 30,000 stalled bytes
            response = httpx2.post(f"{server.url}/v1/traces", content=big, headers=headers)
            if response.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert "50,000" in response.json()["message"]
    finally:
        for sock in stalled:
            sock.close()  # the server sees the uploads end and gives their bytes back
    deadline = time.monotonic() + 20
    while True:
        ok = httpx2.post(f"{server.url}/v1/traces", content=big, headers=headers)
        if ok.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert ok.status_code == 200, ok.text
    assert _count(server) == 2


def test_a_body_is_charged_what_decoding_it_takes_so_one_that_fits_in_bytes_can_still_get_503(start_server) -> None:
    """Parsed, a body takes DECODE_MEMORY_FACTOR times its bytes: an export whose bytes fit beside a
    stalled upload's, but whose decoding does not, waits (503) until the upload is gone."""
    import time

    server = start_server(
        max_body_bytes=600_000, max_buffered_body_bytes=1_000_000, max_buffered_body_bytes_per_client=1_000_000
    )
    headers = {"content-type": "application/json"}
    export = _request_json(_span_json(ROOT_ID)).ljust(1_000_000 // DECODE_MEMORY_FACTOR)
    with stalled_body(server, "/v1/traces", b" " * 500_000, content_length=600_000):
        deadline = time.monotonic() + 20
        while True:  # bounded poll until the server holds the 500,000 stalled bytes
            response = httpx2.post(f"{server.url}/v1/traces", content=export, headers=headers)
            if response.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert response.status_code == 503, response.text
        assert "decoding it" in response.json()["message"] and "1,000,000" in response.json()["message"]
    deadline = time.monotonic() + 20
    while (response := httpx2.post(f"{server.url}/v1/traces", content=export, headers=headers)).status_code == 503:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.02)
    assert response.status_code == 200, response.text
    assert _count(server) == 1


def _protobuf_request(n_spans: int, first_id: int = 1) -> bytes:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for i in range(first_id, first_id + n_spans):
        spans.add(
            trace_id=bytes.fromhex(TRACE_ID), span_id=i.to_bytes(8, "big"), name=f"step {i}",
            start_time_unix_nano=1, end_time_unix_nano=2,
        )  # fmt: skip
    return request.SerializeToString()


def test_a_body_of_two_gzip_members_is_stored_whole(live_server: LiveServer) -> None:
    """The body is what the members decompress to, one after the other: here two exports of 10
    spans, which protobuf reads as one export of 20."""
    response = httpx2.post(
        f"{live_server.url}/v1/traces",
        content=gzip.compress(_protobuf_request(10)) + gzip.compress(_protobuf_request(10, first_id=11)),
        headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    assert response.status_code == 200, response.content
    assert _count(live_server) == 20


def test_trailing_bytes_after_the_gzip_stream_are_400_and_store_nothing(live_server: LiveServer) -> None:
    for trailer in (b"garbage", b"\x1f", b"\x1f\x8b\x08"):
        response = httpx2.post(
            f"{live_server.url}/v1/traces",
            content=gzip.compress(_protobuf_request(3)) + trailer,
            headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
        )
        assert response.status_code == 400, (trailer, response.content)
        assert "gzip" in status_pb2.Status.FromString(response.content).message
    response = httpx2.post(
        f"{live_server.url}/v1/traces",
        content=zlib.compress(_request_json(_span_json(ROOT_ID))) + b"more",
        headers={"content-type": "application/json", "content-encoding": "deflate"},
    )
    assert response.status_code == 400, response.text
    assert "deflate" in response.json()["message"]
    assert _count(live_server) == 0


def test_a_busy_store_is_503_with_retry_after_and_the_export_succeeds_once_it_is_free(live_server: LiveServer) -> None:
    """Another process holding the write lock past the busy timeout (an import while serve runs)."""
    import sqlite3

    with live_server.db.transaction() as conn:
        conn.execute("PRAGMA busy_timeout=200")  # a connection setting: it outlives the transaction
    other = sqlite3.connect(live_server.db.path, isolation_level=None)
    body = _protobuf_request(2)
    headers = {"content-type": "application/x-protobuf"}
    try:
        other.execute("BEGIN IMMEDIATE")
        response = httpx2.post(f"{live_server.url}/v1/traces", content=body, headers=headers, timeout=30)
        assert response.status_code == 503, response.content
        assert response.headers["retry-after"]
        assert "busy" in status_pb2.Status.FromString(response.content).message
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _count(live_server) == 0
    response = httpx2.post(f"{live_server.url}/v1/traces", content=body, headers=headers)
    assert response.status_code == 200
    assert _count(live_server) == 2


def test_an_export_larger_than_one_batch_is_stored_whole_with_every_rejection_counted(live_server: LiveServer) -> None:
    spans = [_span_json(f"{i + 1:016x}", name=f"step {i}") for i in range(1300)]
    spans[100]["spanId"] = spans[1200]["spanId"] = "not-an-id"
    response = httpx2.post(
        f"{live_server.url}/v1/traces", content=_request_json(*spans), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert int(response.json()["partialSuccess"]["rejectedSpans"]) == 2
    assert _count(live_server) == 1298
    assert _count(live_server, "SELECT span_count FROM traces") == 1298


def test_a_body_malformed_after_its_first_batch_is_400_saying_what_was_stored(live_server: LiveServer) -> None:
    body = json.loads(_request_json(*[_span_json(f"{i + 1:016x}") for i in range(600)]))
    body["resourceSpans"].append("not a resource")
    response = httpx2.post(
        f"{live_server.url}/v1/traces", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert "resourceSpans[1]" in message and "512 spans of this export were stored" in message
    assert _count(live_server) == 512
