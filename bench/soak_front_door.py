"""The front door under attack: what still gets through while every denial-of-service case of
issue 8 runs at once against one `tracejudge serve`.

    .venv/bin/python -m bench.soak_front_door                 # sessions sent, then 60 s more
    .venv/bin/python -m bench.soak_front_door --duration 120 --setup-timeout 300
    .venv/bin/python -m bench.soak_front_door --quick         # a smaller attack (a smoke run)

The server runs with RLIMIT_NOFILE 1024 (soft and hard, as `ulimit -n 1024` sets). For the whole
run, at once (the run lasts until the stale sessions are all sent, at most --setup-timeout
seconds, then --duration seconds more with everything still held):
- 1,100 connections that are idle or stuck half way through a request's headers; any the server
  closes is opened again a second later;
- six request bodies sent at 1 byte/s to /v1/traces, each restarted when the server ends it;
- 10,000 MCP `initialize` calls without DELETE (stale sessions), from 16 client addresses;
- four real OpenTelemetry SDK exporters (OTLPSpanExporter, timeout 10 s, its own retries),
  each exporting a batch of 50 spans every 0.2 s.
Printed: exports answered within their timeout (count, p50/p99 latency), attempts the server
refused with 503 (which the exporter retried), exports that failed; what the attackers saw; a
handshake MCP client connecting after the stale sessions; whether the server is alive; its RSS.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.server_process import ServerProcess

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "stale", "version": "1"}},
}


@dataclass
class Attack:
    idle_connections: int
    slow_bodies: int
    stale_sessions: int
    exporters: int = 4
    spans_per_export: int = 50
    export_every_s: float = 0.2
    open_files: int = 1024


FULL = Attack(idle_connections=1100, slow_bodies=6, stale_sessions=10_000)
QUICK = Attack(idle_connections=150, slow_bodies=6, stale_sessions=300, open_files=256)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n


def _hold_idle_connections(port: int, n: int, stop: threading.Event, tally: Tally) -> None:
    """n sockets, half of them stuck in a request's headers; those the server closes come back."""
    selector = selectors.DefaultSelector()

    def connect(i: int) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                sock.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Ty".encode())
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, i)
        except OSError:
            tally.add("idle connection refused")

    for i in range(n):
        connect(i)
    closed: list[int] = []
    next_reopen = time.monotonic() + 1
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)  # type: ignore[union-attr]
            except OSError:
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
                tally.add("idle connection closed by the server")
                closed.append(key.data)
        if time.monotonic() >= next_reopen:
            for i in closed:
                connect(i)
            closed.clear()
            next_reopen = time.monotonic() + 1
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()


def _slow_body(port: int, stop: threading.Event, tally: Tally) -> None:
    """A /v1/traces body at 1 byte/s, started again whenever the server ends it."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(
                    f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Content-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n".encode()
                )
                sock.settimeout(1)
                while not stop.is_set():
                    sock.sendall(b"\x0a")
                    try:
                        answer = sock.recv(4096)
                    except TimeoutError:
                        continue
                    status = answer.split(b" ", 2)[1].decode() if answer else None
                    tally.add(f"slow body answered {status}" if status else "slow body closed")
                    break
        except OSError:
            tally.add("slow body connection failed")
            stop.wait(1)


def _stale_sessions(url: str, total: int, stop: threading.Event, tally: Tally, workers: int = 4) -> float:
    """`total` initialize calls without DELETE, spread over 16 loopback client addresses."""
    remaining = iter(range(total))
    lock = threading.Lock()
    started = time.monotonic()

    def work(worker: int) -> None:
        clients = [
            httpx2.Client(transport=httpx2.HTTPTransport(local_address=f"127.0.0.{10 + a}"), timeout=30)
            for a in range(worker, 16, workers)
        ]
        try:
            while not stop.is_set():
                with lock:
                    i = next(remaining, None)
                if i is None:
                    return
                try:
                    response = clients[i % len(clients)].post(
                        f"{url}/mcp", json=INITIALIZE, headers={"accept": "application/json, text/event-stream"}
                    )
                    tally.add(f"session initialize answered {response.status_code}")
                except httpx2.TransportError:
                    tally.add("session initialize failed")
        finally:
            for client in clients:
                client.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def _export(url: str, attack: Attack, stop: threading.Event, tally: Tally) -> None:
    """A real OTLPSpanExporter exporting SDK spans; every HTTP attempt's status is counted."""
    session = requests.Session()
    session.hooks["response"].append(lambda response, **_: tally.add(f"export attempt answered {response.status_code}"))
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=10, session=session)
    collected = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(collected))
    tracer = provider.get_tracer("soak-agent")
    while not stop.is_set():
        with tracer.start_as_current_span("invoke_agent support_router"):
            for i in range(attack.spans_per_export - 1):
                with tracer.start_as_current_span(f"execute_tool lookup_invoice {i}") as span:
                    span.set_attribute("gen_ai.tool.name", "lookup_invoice")
        spans: tuple[ReadableSpan, ...] = collected.get_finished_spans()
        collected.clear()
        started = time.monotonic()
        result = exporter.export(spans)
        elapsed = time.monotonic() - started
        if result is SpanExportResult.SUCCESS:
            with tally.lock:
                tally.latencies.append(elapsed)
        else:
            tally.add("export failed")
        stop.wait(attack.export_every_s)
    exporter.shutdown()


async def _handshake_client(url: str) -> int:
    async with httpx2.AsyncClient(timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client:
            return len((await client.list_tools()).tools)


def _health(url: str) -> str:
    try:
        return str(httpx2.get(f"{url}/health", timeout=10).status_code)
    except httpx2.TransportError as exc:
        return f"no answer ({exc})"


def soak(attack: Attack, duration_s: float, setup_timeout_s: float, workdir: Path) -> None:
    server = ServerProcess(workdir / "soak.db", open_files=attack.open_files)
    port = server.port
    stop = threading.Event()
    setup_over = threading.Event()
    tally = Tally()
    threads = [
        threading.Thread(target=_hold_idle_connections, args=(port, attack.idle_connections, stop, tally)),
        *(threading.Thread(target=_slow_body, args=(port, stop, tally)) for _ in range(attack.slow_bodies)),
        *(threading.Thread(target=_export, args=(server.url, attack, stop, tally)) for _ in range(attack.exporters)),
    ]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        timer = threading.Timer(setup_timeout_s, setup_over.set)
        timer.start()
        sessions_s = _stale_sessions(server.url, attack.stale_sessions, setup_over, tally)
        timer.cancel()
        stop.wait(duration_s)
        health_during = _health(server.url)
        stop.set()
        for thread in threads:
            thread.join()
        try:
            tools = f"connected, {anyio.run(_handshake_client, server.url)} tools"
        except Exception as exc:  # what the bench reports, whatever it is
            tools = f"FAILED ({type(exc).__name__}: {exc})"
        alive = server.process.poll() is None
        health_after = _health(server.url)
        peak, rss = (server.memory_mib("VmHWM"), server.memory_mib()) if alive else (0.0, 0.0)
    finally:
        stop.set()
        if server.process.poll() is None:
            server.stop()
    elapsed = time.monotonic() - started
    _print(attack, elapsed, sessions_s, tally, tools, alive, health_during, health_after, peak, rss)


def _print(
    attack: Attack, elapsed: float, sessions_s: float, tally: Tally, tools: str, alive: bool, during: str,
    after: str, peak: float, rss: float,
) -> None:  # fmt: skip
    counts = tally.counts
    sent = sum(n for what, n in counts.items() if what.startswith("session initialize"))
    answered = sorted(tally.latencies)
    p50 = statistics.median(answered) * 1000 if answered else float("nan")
    p99 = answered[min(len(answered) - 1, int(len(answered) * 0.99))] * 1000 if answered else float("nan")
    print(
        f"attack for {elapsed:.0f} s, server RLIMIT_NOFILE {attack.open_files}: {attack.idle_connections:,} idle/"
        f"half-sent connections, {attack.slow_bodies} slow bodies, {attack.stale_sessions:,} stale MCP sessions, "
        f"{attack.exporters} OTel exporters"
    )
    print(f"stale sessions: {sent:,} initialize calls sent in {sessions_s:.0f} s")
    print(f"exports answered within their timeout: {len(answered):,} (p50 {p50:,.0f} ms, p99 {p99:,.0f} ms)")
    print(f"export attempts refused with 503 (retried by the exporter): {counts['export attempt answered 503']:,}")
    print(f"exports failed: {counts['export failed']:,}")
    print("what the attackers saw:")
    for what, n in sorted(counts.items()):
        if not what.startswith("export"):
            print(f"  {what}: {n:,}")
    print(f"handshake MCP client after the stale sessions: {tools}")
    print(f"/health during the attack: {during}; after: {after}")
    print(f"server alive: {'yes' if alive else 'NO'}")
    print(f"server peak RSS: {peak:,.0f} MiB; RSS at the end: {rss:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to go on once the sessions are sent")
    parser.add_argument("--setup-timeout", type=float, default=600.0, help="most seconds for sending the sessions")
    parser.add_argument("--quick", action="store_true", help="a smaller attack, 5 s after its sessions, a smoke run")
    args = parser.parse_args()
    attack, duration = (QUICK, 5.0) if args.quick else (FULL, args.duration)
    with tempfile.TemporaryDirectory() as tmp:
        soak(attack, duration, args.setup_timeout, Path(tmp))


if __name__ == "__main__":
    main()
