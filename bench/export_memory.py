"""Server memory for large OTLP exports: one 60 MiB export, six concurrent 40 MiB exports, then
one 16 MiB export of each hostile shape (bodies that decode to many small Python objects).

    .venv/bin/python -m bench.export_memory           # 60 MiB, 6 x 40 MiB, 16 MiB per shape
    .venv/bin/python -m bench.export_memory --quick   # a tenth of each (a smoke run)

Each case runs against a fresh `tracejudge serve` subprocess; every export must be answered 200
with an empty ExportTraceServiceResponse (stored and committed, nothing rejected). Printed per
case: the server's RSS before, its peak RSS while storing (VmHWM) and the peak's increase over the
idle RSS as a multiple of the bytes sent, and its RSS once every export was answered. The largest
multiple is what mcp_server.ingest.otlp.DECODE_MEMORY_FACTOR charges the body budget per body byte.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench.server_process import ServerProcess
from bench.workload import agent_traces, request
from mcp_server.ingest.otlp.span_parts import MAX_VALUE_DEPTH

MIB = 1024 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


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


def _span(i: int, attributes: list[KeyValue]) -> Span:
    return Span(
        trace_id=(i // 1000 + 1).to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"), name="step",
        start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=attributes,
    )  # fmt: skip


def _spans_body(target_bytes: int, make_attributes: Callable[[int], list[KeyValue]]) -> bytes:
    """An export of spans carrying make_attributes(i), about target_bytes long."""
    spans: list[Span] = []
    size = 0
    while size < target_bytes:
        spans.append(_span(len(spans), make_attributes(len(spans))))
        size += spans[-1].ByteSize() + 4
    return request(spans).SerializeToString()


def tiny_attributes(target_bytes: int) -> bytes:
    """Spans of 2,000 attributes each, every one a short key and a small int (~8 bytes on the wire)."""
    return _spans_body(target_bytes, lambda i: [KeyValue(key=f"a{k}", value=AnyValue(int_value=k)) for k in range(2000)])


def _nested(depth: int, leaf: int) -> AnyValue:
    """A kvlist of one key in a kvlist ... `depth` values deep in all, an int at the bottom."""
    value = AnyValue(int_value=leaf)
    for _ in range(depth - 1):
        value = AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="k", value=value)]))
    return value


def nested_values(target_bytes: int) -> bytes:
    """Spans of 100 attributes, each a kvlist nested to MAX_VALUE_DEPTH (the deepest a span may hold)."""
    return _spans_body(target_bytes, lambda i: [KeyValue(key=f"n{k}", value=_nested(MAX_VALUE_DEPTH, k)) for k in range(100)])


def empty_arrays(target_bytes: int) -> bytes:
    """Spans of one attribute: an array of 100,000 empty AnyValues (2 bytes each on the wire)."""
    array = AnyValue(array_value=ArrayValue(values=[AnyValue()] * 100_000))
    return _spans_body(target_bytes, lambda i: [KeyValue(key="empty", value=array)])


def json_small_objects(target_bytes: int) -> bytes:
    """OTLP/JSON spans of one attribute: an arrayValue of 100,000 empty objects (3 bytes each)."""
    values = ",".join(["{}"] * 100_000)
    spans = []
    size = 0
    while size < target_bytes:
        i = len(spans)
        spans.append(
            f'{{"traceId":"{i // 1000 + 1:032x}","spanId":"{i + 1:016x}","name":"step",'
            '"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000",'
            f'"attributes":[{{"key":"empty","value":{{"arrayValue":{{"values":[{values}]}}}}}}]}}'
        )
        size += len(spans[-1]) + 1
    body = '{"resourceSpans":[{"scopeSpans":[{"spans":[' + ",".join(spans) + "]}]}]}"
    json.loads(body)  # well-formed, or the bench is wrong
    return body.encode()


def _post_all(url: str, bodies: list[bytes], content_type: str) -> int:
    """POST every body at once, each from its own loopback address (as separate exporters would send
    them, each with its share of the body budget), retrying after a 503 as an exporter does; each
    must end in a full success. Returns how many 503s were answered on the way."""
    failures: list[str] = []
    refused = [0]
    headers = {"content-type": content_type}
    ok_body = b"{}" if content_type == JSON else b""

    def post(body: bytes, source: str) -> None:
        with httpx2.Client(transport=httpx2.HTTPTransport(local_address=source), timeout=600) as client:
            while (response := client.post(f"{url}/v1/traces", content=body, headers=headers)).status_code == 503:
                refused[0] += 1
                time.sleep(float(response.headers.get("retry-after", "1")))
        if response.status_code != 200 or response.content != ok_body:
            failures.append(f"{response.status_code} {response.content[:300]!r}")

    threads = [threading.Thread(target=post, args=(body, f"127.0.0.{i + 2}")) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(bodies)} exports failed, first: {failures[0]}")
    return refused[0]


def measure(workdir: Path, name: str, bodies: list[bytes], content_type: str = PROTOBUF) -> dict[str, float]:
    server = ServerProcess(workdir / f"{name}.db")
    try:
        before = server.memory_mib()
        refused = _post_all(server.url, bodies, content_type)
        peak = server.memory_mib("VmHWM")
        after = server.memory_mib()
    finally:
        server.stop()
    sent = sum(len(b) for b in bodies) / MIB
    return {"sent": sent, "before": before, "peak": peak, "after": after, "ratio": (peak - before) / sent, "503": refused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="bodies a tenth of the size, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    one, six, shape = 60 // scale, 40 // scale, 16 * MIB // scale
    cases: dict[str, tuple[str, Callable[[], list[bytes]]]] = {
        f"one {one} MiB export": (PROTOBUF, lambda: [export_body(one * MIB, seed=1)]),
        f"six {six} MiB exports at once": (PROTOBUF, lambda: [export_body(six * MIB, seed=10 + i) for i in range(6)]),
        "tiny attributes": (PROTOBUF, lambda: [tiny_attributes(shape)]),
        f"kvlists {MAX_VALUE_DEPTH} deep": (PROTOBUF, lambda: [nested_values(shape)]),
        "arrays of empty values": (PROTOBUF, lambda: [empty_arrays(shape)]),
        "JSON, many small objects": (JSON, lambda: [json_small_objects(shape)]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        columns = f"{'sent MiB':>9} {'RSS before':>11} {'peak RSS':>9} {'peak - before':>14} {'RSS after':>10} {'503s':>5}"
        print(f"{'case':<32} {columns}")
        for i, (name, (content_type, make_bodies)) in enumerate(cases.items()):
            m = measure(Path(tmp), f"case{i}", make_bodies(), content_type)
            print(
                f"{name:<32} {m['sent']:>9.1f} {m['before']:>7.0f} MiB {m['peak']:>5.0f} MiB "
                f"{m['peak'] - m['before']:>5.0f} MiB ({m['ratio']:.1f}x) {m['after']:>6.0f} MiB {m['503']:>5}",
                flush=True,
            )


if __name__ == "__main__":
    main()
