"""Server memory for large OTLP exports: one 60 MiB export, then six concurrent 40 MiB exports.

    .venv/bin/python -m bench.export_memory           # 60 MiB, and 6 x 40 MiB
    .venv/bin/python -m bench.export_memory --quick   # 6 MiB, and 6 x 4 MiB (a smoke run)

Each case runs against a fresh `tracejudge serve` subprocess; every export must be answered 200
with an empty ExportTraceServiceResponse (stored and committed). Printed per case: the server's
RSS before, its peak RSS while storing (VmHWM) and the peak's increase over the idle RSS as a
multiple of the bytes sent, and its RSS once every export was answered.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

import httpx2

from bench.server_process import ServerProcess
from bench.workload import agent_traces, request

MIB = 1024 * 1024
HEADERS = {"content-type": "application/x-protobuf"}


def export_body(target_bytes: int, seed: int) -> bytes:
    """An ExportTraceServiceRequest of ~3 KB GenAI spans (17 to a trace), about target_bytes long."""
    spans = []
    size = 0
    for trace in agent_traces(target_bytes // (17 * 3000) + 1, 17, 3000, seed=seed):
        for span in trace:
            spans.append(span)
            size += span.ByteSize() + 4
            if size >= target_bytes:
                return request(spans).SerializeToString()
    return request(spans).SerializeToString()


def _post_all(url: str, bodies: list[bytes]) -> None:
    """POST every body at once, one connection each; each must be a full success."""
    failures: list[str] = []

    def post(body: bytes) -> None:
        response = httpx2.post(f"{url}/v1/traces", content=body, headers=HEADERS, timeout=600)
        if response.status_code != 200 or response.content:
            failures.append(f"{response.status_code} {response.content[:300]!r}")

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(bodies)} exports failed, first: {failures[0]}")


def measure(workdir: Path, name: str, bodies: list[bytes]) -> dict[str, float]:
    server = ServerProcess(workdir / f"{name}.db")
    try:
        before = server.memory_mib()
        _post_all(server.url, bodies)
        peak = server.memory_mib("VmHWM")
        after = server.memory_mib()
    finally:
        server.stop()
    sent = sum(len(b) for b in bodies) / MIB
    return {"sent": sent, "before": before, "peak": peak, "after": after, "ratio": (peak - before) / sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="bodies a tenth of the size, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    one, six = 60 // scale, 40 // scale
    cases = {
        f"one {one} MiB export": [export_body(one * MIB, seed=1)],
        f"six {six} MiB exports at once": [export_body(six * MIB, seed=10 + i) for i in range(6)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        columns = f"{'sent MiB':>9} {'RSS before':>11} {'peak RSS':>9} {'peak - before':>14} {'RSS after':>10}"
        print(f"{'case':<32} {columns}")
        for i, (name, bodies) in enumerate(cases.items()):
            m = measure(Path(tmp), f"case{i}", bodies)
            print(
                f"{name:<32} {m['sent']:>9.1f} {m['before']:>7.0f} MiB {m['peak']:>5.0f} MiB "
                f"{m['peak'] - m['before']:>5.0f} MiB ({m['ratio']:.1f}x) {m['after']:>6.0f} MiB"
            )


if __name__ == "__main__":
    main()
