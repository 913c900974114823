"""Slow clients (slowloris): a request body that arrives too slowly is answered 408 and closed, and
slow bodies never keep real exports out."""

from __future__ import annotations

import json
import socket

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.live_server import LiveServer


def _slow_body(server: LiveServer, path: str, first_bytes: bytes = b'{"res') -> socket.socket:
    """Headers and the first bytes of a chunked body, then nothing more."""
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(first_bytes):x}\r\n".encode()
        + first_bytes
        + b"\r\n"
    )
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body the server sends before it closes the connection (or 30 s pass)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_stalled_body_is_answered_408_within_the_body_timeout_on_every_route(start_server) -> None:
    server = start_server(body_timeout_s=1)
    for path in ("/v1/traces", "/mcp"):
        with _slow_body(server, path) as sock:
            status, body = _answer(sock)
        assert status == 408, (path, body)
        assert "5 bytes" in body["message"] and "1 s" in body["message"]
        assert "TRACEJUDGE_BODY_TIMEOUT_S" in body["message"]


def test_a_body_below_the_minimum_rate_is_cut_after_its_first_seconds(live_server: LiveServer) -> None:
    """The total allowance is 60 s, but a body that sends nothing more is cut once its grace ends."""
    with _slow_body(live_server, "/v1/traces") as sock:
        status, body = _answer(sock)
    assert status == 408
    assert "16,384 bytes/s" in body["message"] and "TRACEJUDGE_BODY_MIN_RATE" in body["message"]


def test_six_slow_bodies_do_not_keep_a_real_otel_export_out(live_server: LiveServer) -> None:
    slow = [_slow_body(live_server, "/v1/traces") for _ in range(6)]
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
