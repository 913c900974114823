"""OTLP/HTTP ingest throughput, the raw-SQLite limit, one large trace, cold start and memory.

    .venv/bin/python -m bench.ingest

Figures printed:
- spans/s storing ~3 KB GenAI spans sent as protobuf in batches of 512 to `tracejudge serve`
  (one sender, like one BatchSpanProcessor; and 4 senders), with the ratio to the raw-SQLite
  limit: the same rows and full-text index entries inserted by plain executemany, no Python
  decoding, no HTTP;
- seconds to store one 5,000-span trace of ~49 MB (sent in batches of 512), and the server's
  peak memory while it does;
- server cold start (process start to /health answering) and idle memory.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx2

from bench.server_process import ServerProcess
from bench.workload import agent_traces, batches, request
from mcp_server.ingest.otlp import decode_request
from store import Database
from store.ingest import _UPSERT_SPAN, encode_span

HEADERS = {"content-type": "application/x-protobuf"}


def _bodies(n_spans: int, content_chars: int, spans_per_trace: int, batch: int = 512) -> list[bytes]:
    n_traces = max(n_spans // spans_per_trace, 1)
    spans = (span for trace in agent_traces(n_traces, spans_per_trace, content_chars) for span in trace)
    return [request(chunk).SerializeToString() for chunk in batches(spans, batch)]


def _send(url: str, bodies: list[bytes], senders: int) -> float:
    """Seconds to POST every body, `senders` connections at a time; each must be a full success."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        with httpx2.Client(timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                response = client.post(f"{url}/v1/traces", content=body, headers=HEADERS)
                if response.status_code != 200 or response.content:
                    failures.append(f"{response.status_code} {response.content[:200]!r}")

    threads = [threading.Thread(target=worker) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} exports failed, first: {failures[0]}")
    return elapsed


def raw_sqlite_spans_per_second(bodies: list[bytes], workdir: Path) -> float:
    """The limit: the same span rows and FTS entries, inserted with plain executemany."""
    db = Database(workdir / "raw.db")
    prepared = []
    for body in bodies:
        spans = decode_request(body, "protobuf").spans
        prepared.append(([encode_span(span) for span in spans], sorted({span.trace_id for span in spans})))
    conn = db._writer
    started = time.perf_counter()
    for encoded, trace_ids in prepared:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO traces (trace_id) VALUES (?)", [(t,) for t in trace_ids])
        last = conn.execute("SELECT coalesce(max(id), 0) FROM spans").fetchone()[0]
        conn.executemany(_UPSERT_SPAN, [row for row, _ in encoded])
        conn.executemany(
            "INSERT INTO spans_fts (rowid, body) VALUES (?, ?)",
            [(last + i, text) for i, (_, text) in enumerate(encoded, start=1)],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return sum(len(encoded) for encoded, _ in prepared) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=30_720, help="spans for the throughput run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bodies = _bodies(args.spans, content_chars=3000, spans_per_trace=17)
        n = args.spans
        size = sum(len(b) for b in bodies) / n
        print(f"workload: {n:,} spans of {size:,.0f} bytes (protobuf) in batches of 512")

        server = ServerProcess(workdir / "cold.db")
        idle = server.memory_mib()
        print(f"cold start: {server.start_seconds * 1000:,.0f} ms to /health; idle memory {idle:,.0f} MiB RSS")
        server.stop()

        results = {}
        for senders in (1, 4):
            server = ServerProcess(workdir / f"ingest{senders}.db")
            elapsed = _send(server.url, bodies, senders)
            results[senders] = n / elapsed
            server.stop()
        raw = raw_sqlite_spans_per_second(bodies, workdir)
        for senders, rate in results.items():
            print(f"OTLP/HTTP ingest, {senders} sender(s): {rate:,.0f} spans/s ({rate / raw:.2f} of the raw-SQLite limit)")
        print(f"raw-SQLite limit (same rows and FTS entries, executemany): {raw:,.0f} spans/s")

        large = _bodies(5000, content_chars=9600, spans_per_trace=5000)
        mb = sum(len(b) for b in large) / 1e6
        server = ServerProcess(workdir / "large.db")
        elapsed = _send(server.url, large, 1)
        peak = server.memory_mib("VmHWM")
        server.stop()
        print(f"one 5,000-span trace of {mb:,.1f} MB: stored in {elapsed:,.2f} s; server peak memory {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
