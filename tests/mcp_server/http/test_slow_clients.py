"""Slow clients (slowloris): a request body that arrives too slowly, or stops, is answered 408 and
closed; slow bodies hold only the bytes they sent, one client only its share of the body budget, so
they never keep real exports out."""

from __future__ import annotations

import gzip
import json
import time

import httpx2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.live_server import LiveServer
from tests.support.raw_http import answer_of, stalled_body

STARTED = b'{"res'
"""The first bytes of a JSON export body, all a stalled client sends."""


def test_a_stalled_body_is_answered_408_within_the_body_timeout_on_every_route(start_server) -> None:
    server = start_server(body_timeout_s=1)
    for path in ("/v1/traces", "/mcp"):
        with stalled_body(server, path, STARTED) as sock:
            status, _, body = answer_of(sock)
        assert status == 408, (path, body)
        assert "5 bytes" in body["message"] and "1 s" in body["message"]
        assert "TRACEJUDGE_BODY_TIMEOUT_S" in body["message"]


def test_a_body_below_the_minimum_rate_is_cut_after_its_first_seconds(live_server: LiveServer) -> None:
    """The total allowance is 60 s, but a body that sends nothing more is cut once its grace ends."""
    with stalled_body(live_server, "/v1/traces", STARTED) as sock:
        status, _, body = answer_of(sock)
    assert status == 408
    assert "16,384 bytes/s" in body["message"] and "TRACEJUDGE_BODY_MIN_RATE" in body["message"]


def test_six_slow_bodies_do_not_keep_a_real_otel_export_out(live_server: LiveServer) -> None:
    slow = [stalled_body(live_server, "/v1/traces", STARTED) for _ in range(6)]
    try:
        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces", timeout=10)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("agent").start_as_current_span("invoke_agent support_router"):
            pass
        provider.shutdown()
    finally:
        for sock in slow:
            sock.close()
    assert live_server.db.reader().execute("SELECT count(*) FROM spans").fetchone()[0] == 1


def _export_json(span_id: str = "eee19b7ec3c1b174", size: int = 0) -> bytes:
    """An OTLP/JSON export of one span, padded with spaces to `size` bytes."""
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "step", "kind": 1,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
    }  # fmt: skip
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode().ljust(size)


def _spans(server: LiveServer) -> int:
    return server.db.reader().execute("SELECT count(*) FROM spans").fetchone()[0]


def _post_until(server: LiveServer, body: bytes, wanted, **httpx_options) -> httpx2.Response:
    """POST `body` until `wanted(response)` (a bounded poll: the server takes a stalled client's bytes
    a moment after they are sent); the last response."""
    deadline = time.monotonic() + 20
    with httpx2.Client(**httpx_options) as client:
        while True:
            response = client.post(f"{server.url}/v1/traces", content=body, headers={"content-type": "application/json"})
            if wanted(response) or time.monotonic() > deadline:
                return response
            time.sleep(0.02)


def test_slow_clients_announcing_large_bodies_do_not_keep_a_real_otel_export_out(start_server) -> None:
    """A Content-Length is a promise, not bytes: headers announcing the largest body allowed, or the
    start of a gzip body that would inflate to nearly as much, hold only the bytes that came."""
    server = start_server(max_body_bytes=1_000_000, max_buffered_body_bytes=2_000_000)
    bomb_start = gzip.compress(bytes(950_000))[:-8]  # all but the gzip trailer: the body never ends
    slow = [stalled_body(server, "/v1/traces", b"", content_length=1_000_000) for _ in range(3)]
    slow += [
        stalled_body(server, "/v1/traces", bomb_start, content_length=1_000_000, **{"content-encoding": "gzip"})
        for _ in range(3)
    ]
    try:
        provider = TracerProvider()
        # Its timeout (with the retries it makes on 503 inside it) ends before the stalled bodies' 5 s.
        exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=3, compression=Compression.Gzip)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("agent").start_as_current_span("invoke_agent support_router"):
            pass
        provider.shutdown()
        assert _spans(server) == 1
        response = httpx2.post(
            f"{server.url}/v1/traces", content=_export_json(size=20_000), headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert _spans(server) == 2
    finally:
        for sock in slow:
            sock.close()


def test_a_body_that_stops_sending_is_cut_after_the_idle_timeout_and_its_bytes_are_given_back(start_server) -> None:
    """600,000 bytes sent fast earn a rate allowance of 40 s; the idle timeout ends the wait after 1 s."""
    server = start_server(body_idle_timeout_s=1, max_body_bytes=1_000_000, max_buffered_body_bytes=2_000_000)
    big = _export_json(size=450_000)
    with stalled_body(server, "/v1/traces", b" " * 600_000, content_length=1_000_000) as sock:
        # While it holds 600,000 of this client's 1,000,000 bytes, a 450,000-byte export does not fit.
        refused = _post_until(server, big, lambda r: r.status_code == 503)
        assert refused.status_code == 503, refused.text
        status, headers, body = answer_of(sock)
    assert status == 408, body
    assert headers["connection"] == "close"
    assert "600,000 bytes" in body["message"] and "TRACEJUDGE_BODY_IDLE_TIMEOUT_S" in body["message"]
    accepted = _post_until(server, big, lambda r: r.status_code != 503)
    assert accepted.status_code == 200, accepted.text
    assert _spans(server) == 1


def test_one_client_address_holds_at_most_its_share_of_the_body_budget(start_server) -> None:
    server = start_server(
        max_body_bytes=100_000, max_buffered_body_bytes=400_000, max_buffered_body_bytes_per_client=150_000
    )
    export = _export_json(size=90_000)
    with stalled_body(server, "/v1/traces", b" " * 90_000, content_length=100_000):
        refused = _post_until(server, export, lambda r: r.status_code == 503)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        message = refused.json()["message"]
        assert "127.0.0.1" in message and "150,000" in message, message
        assert "TRACEJUDGE_MAX_BUFFERED_BODY_BYTES_PER_CLIENT" in message
        # Another address has its own share: the budget as a whole has room.
        other = httpx2.Client(transport=httpx2.HTTPTransport(local_address="127.0.0.2"))
        with other:
            response = other.post(f"{server.url}/v1/traces", content=export, headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
    assert _spans(server) == 1
