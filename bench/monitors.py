"""Monitors: traces judged per second against the concurrency limit, and the lag from a trace's
completion to its verdict, with an LLM judge whose model answers in 200 ms.

    .venv/bin/python -m bench.monitors                  # concurrency 1, 4, 8, 16 and the code judge (~2 minutes)
    .venv/bin/python -m bench.monitors --quick          # concurrency 4 and the code judge, shorter phases
    .venv/bin/python -m bench.monitors --concurrency 8,16 --phase-s 15

The real path: for each concurrency a fresh database holds one stored LLM judge ('helpful', a
bool, bench.judge_throughput's) and one monitor running it on every trace (settle_s SETTLE_S);
a real `tracejudge serve` subprocess runs the monitors (TRACEJUDGE_MONITOR_CONCURRENCY,
TRACEJUDGE_MONITOR_POLL_S=POLL_S) with its judge model served by the tests' scripted
OpenAI-compatible server in a child process (bench.judge_throughput.ScriptedModelProcess), which
answers every request after LATENCY_S. This process sends the traces through the OpenTelemetry
SDK's OTLP/HTTP exporter (a BatchSpanProcessor), at a steady rate: an agent root span with an LLM
and a tool span under it. It reads the figures from the store (monitor_results).

Per concurrency, after a warm-up (litellm's import and first client in the server):
- the lag phase: traces at LAG_LOAD x the ideal rate (concurrency / LATENCY_S) for --phase-s
  seconds, then until every one is judged: lag p50, p90 and max, from the trace's completion (its
  last span's arrival + settle_s, what monitor_results.lag_s stores) to its verdict;
- the throughput phase: traces at SATURATE_LOAD x the ideal rate, more than the monitors can
  judge, so a backlog grows: the verdicts stored per second between SETTLE_S + 1 s after its start
  and its end, against the ideal (the ratio), and the most requests the model held at once (from
  its own arrival log: each held LATENCY_S from its arrival).
The code judge ('error_spans', no model) goes through the same two phases at fixed rates: what the
runner itself costs, and what bounds it when the model costs nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from bench.judge_throughput import LATENCY_S, ScriptedModelProcess, create_judges, max_in_flight
from bench.server_process import ServerProcess
from bench.timing import p90
from mcp_server.monitors import service
from store import Database
from store import monitors as monitor_store

MONITOR = "bench"
SETTLE_S = 0.5
POLL_S = 0.2
TIMEOUT_S = 60.0
LAG_LOAD = 0.5
SATURATE_LOAD = 1.5
CONCURRENCIES, QUICK_CONCURRENCIES = (1, 4, 8, 16), (4,)
PHASE_S, QUICK_PHASE_S = 8.0, 4.0
CODE_JUDGE = "error_spans"
CODE_CONCURRENCY = 16
CODE_LAG_RATE, CODE_SATURATE_RATE = 20.0, 400.0
"""Traces per second for the code judge's two phases: well under, then above, what it judges."""
WARM_UP_TRACES = 4
WAIT_S = 60.0
"""The longest wait for the traces sent to be judged before the script gives up on a run."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class TraceSender:
    """Agent traces through the OpenTelemetry SDK's OTLP/HTTP exporter to `url`, at a steady rate."""

    def __init__(self, url: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": "monitor-bench"}))
        self.processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"), schedule_delay_millis=50)
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("bench.monitors")

    def one(self, index: int) -> str:
        """One trace: an agent span with an LLM span and a tool span under it; its trace id."""
        question = f"Where is my order #{index:05d}? It was due on Monday."
        answer = f"Order #{index:05d} left the warehouse today; it arrives on Thursday."
        with self.tracer.start_as_current_span(
            "agent", attributes={"openinference.span.kind": "AGENT", "input.value": question, "output.value": answer}
        ) as root:
            llm = {"openinference.span.kind": "LLM", "input.value": question, "output.value": "call lookup_order"}
            with self.tracer.start_as_current_span("llm", attributes=llm):
                pass
            tool = {"openinference.span.kind": "TOOL", "tool.name": "lookup_order",
                    "input.value": f'{{"order": {index}}}', "output.value": '{"eta": "Thu"}'}  # fmt: skip
            with self.tracer.start_as_current_span("lookup_order", attributes=tool):
                pass
        return format(root.get_span_context().trace_id, "032x")

    def send(self, rate: float, seconds: float, first: int = 0) -> list[str]:
        """Traces at `rate` a second for `seconds` (each ended at its due time), flushed; their ids."""
        count = max(1, round(rate * seconds))
        started = time.perf_counter()
        ids = []
        for index in range(count):
            wait = started + index / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            ids.append(self.one(first + index))
        self.processor.force_flush()
        return ids

    def close(self) -> None:
        self.provider.shutdown()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process `pid` has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_judged(db: Database, count: int, timeout_s: float = WAIT_S) -> float:
    """Wait until the monitor has judged `count` traces in all; the seconds it took."""
    started = time.perf_counter()
    while (judged := monitor_store.state_counts(db, MONITOR)["judged"]) < count:
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError(f"only {judged} of {count} traces judged after {timeout_s:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


@dataclass
class Run:
    judge: str
    concurrency: int
    lag_rate: float
    saturate_rate: float
    ideal: float | None  # traces a second if nothing but the model took time (None: a code judge)


def measure(run: Run, model: ScriptedModelProcess, phase_s: float, poll_s: float, tmp: Path) -> dict[str, Any]:
    """One server over a fresh database, the warm-up, the lag phase and the throughput phase."""
    path = tmp / f"{run.judge}-{run.concurrency}.db"
    db = Database(path)
    create_judges(db)
    service.create_monitor(db, MONITOR, [run.judge], settle_s=SETTLE_S, timeout_s=TIMEOUT_S)
    env = {
        "TRACEJUDGE_MONITOR_CONCURRENCY": str(run.concurrency), "TRACEJUDGE_MONITOR_POLL_S": str(poll_s),
        "TRACEJUDGE_JUDGE_MODEL": "openai/gpt-4o-mini", "TRACEJUDGE_JUDGE_API_BASE": model.url,
        "TRACEJUDGE_JUDGE_API_KEY": "sk-scripted", "TRACEJUDGE_JUDGE_TIMEOUT_S": "30",
    }  # fmt: skip
    log = tmp / f"{run.judge}-{run.concurrency}.log"
    server = ServerProcess(path, env=env, log=log)
    sender = TraceSender(server.url)
    try:
        warm = sender.send(WARM_UP_TRACES / 0.5, 0.5)
        warm_s = wait_judged(db, len(warm))
        model.arrivals()  # forgets the warm-up's requests
        lag_ids = sender.send(run.lag_rate, phase_s, first=len(warm))
        drain_s = wait_judged(db, len(warm) + len(lag_ids))
        lag_arrivals, _, _ = model.arrivals()
        start_ns, cpu = time.time_ns(), cpu_seconds(server.process.pid)
        saturate_ids = sender.send(run.saturate_rate, phase_s, first=len(warm) + len(lag_ids))
        end_ns, cpu = time.time_ns(), cpu_seconds(server.process.pid) - cpu
        arrivals, problems, _ = model.arrivals()
        results = monitor_store.recent_results(db, MONITOR, 10**9)
        counts = monitor_store.state_counts(db, MONITOR)
    except RuntimeError as exc:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{exc}; the server's log ends:\n{tail}") from None
    finally:
        sender.close()
        server.stop()
        db.close()
    lag_set = set(lag_ids)
    lags = [r["lag_s"] for r in results if r["trace_id"] in lag_set]
    errors = [r for r in results if r["outcome"] != "value"]
    window_start = start_ns + int((SETTLE_S + 1.0) * 1e9)
    in_window = sum(1 for r in results if window_start <= r["created_ns"] <= end_ns)
    rate = in_window / ((end_ns - window_start) / 1e9)
    # Leases given back as the server stops are the throughput phase's backlog: expected.
    warnings = [line for line in log.read_text(errors="replace").splitlines()
                if "monitors:" in line and "as the server stopped" not in line]  # fmt: skip
    judged_in_phase = sum(1 for r in results if start_ns <= r["created_ns"] <= end_ns)
    return {
        "run": run, "warm_s": warm_s, "lag_traces": len(lag_ids), "drain_s": drain_s,
        "lag_p50": statistics.median(lags), "lag_p90": p90(lags), "lag_max": max(lags),
        "lag_in_flight": max_in_flight(lag_arrivals, LATENCY_S) if lag_arrivals else 0,
        "saturate_traces": len(saturate_ids), "sent_rate": len(saturate_ids) / ((end_ns - start_ns) / 1e9),
        "rate": rate, "in_window": in_window,
        "ratio": rate / run.ideal if run.ideal else None,
        "in_flight": max_in_flight(arrivals, LATENCY_S) if arrivals else 0,
        "cpu_ms": cpu / max(judged_in_phase, 1) * 1000, "cpu_share": cpu / ((end_ns - start_ns) / 1e9),
        "errors": len(errors), "problems": problems, "counts": counts, "warnings": warnings,
    }  # fmt: skip


def print_table(rows: list[dict[str, Any]], poll_s: float) -> None:
    print(f"\nsettle_s {SETTLE_S}, poll_s {poll_s:g}, model latency {LATENCY_S * 1000:.0f} ms; "
          f"lag phase at {LAG_LOAD} x ideal, throughput phase at {SATURATE_LOAD} x ideal (code judge: "
          f"{CODE_LAG_RATE:g} and {CODE_SATURATE_RATE:g} traces/s)")  # fmt: skip
    print(f"{'judge':>11} {'conc.':>5} {'ideal/s':>7} {'sent/s':>6} {'judged/s':>8} {'ratio':>6} {'model max':>9} "
          f"{'server CPU ms/trace':>19} {'lag rate/s':>10} {'lag p50 s':>9} {'p90 s':>6} {'max s':>6} {'errors':>6}")
    for row in rows:
        run = row["run"]
        ideal = f"{run.ideal:.0f}" if run.ideal else "-"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        print(f"{run.judge:>11} {run.concurrency:>5} {ideal:>7} {row['sent_rate']:>6.0f} {row['rate']:>8.1f} {ratio:>6} "
              f"{row['in_flight']:>9} {row['cpu_ms']:>19.1f} {run.lag_rate:>10.1f} {row['lag_p50']:>9.3f} {row['lag_p90']:>6.3f} "
              f"{row['lag_max']:>6.3f} {row['errors']:>6}")  # fmt: skip
        if row["errors"] or row["problems"] or row["warnings"]:
            print(f"  !! {row['errors']} judgments without a value; model server problems: {row['problems'][:1]}; "
                  f"server warnings: {row['warnings'][:2]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"concurrency 4 and the code judge, {QUICK_PHASE_S:g} s phases")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")],
                        help="comma-separated monitor concurrencies for the LLM judge (default 1,4,8,16)")
    parser.add_argument("--phase-s", type=float, help=f"seconds each phase sends traces (default {PHASE_S:g})")
    parser.add_argument("--poll-s", type=float, default=POLL_S, help=f"the monitors' poll_s (default {POLL_S:g})")
    parser.add_argument("--no-code-judge", dest="code_judge", action="store_false", help="leave the code judge out")
    args = parser.parse_args(argv)
    concurrencies = args.concurrency or list(QUICK_CONCURRENCIES if args.quick else CONCURRENCIES)
    phase_s = args.phase_s or (QUICK_PHASE_S if args.quick else PHASE_S)
    runs = [Run("helpful", c, LAG_LOAD * c / LATENCY_S, SATURATE_LOAD * c / LATENCY_S, c / LATENCY_S)
            for c in concurrencies]  # fmt: skip
    if args.code_judge:
        runs.append(Run(CODE_JUDGE, CODE_CONCURRENCY, CODE_LAG_RATE, CODE_SATURATE_RATE, None))
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ScriptedModelProcess(backlog=128) as model:
        for run in runs:
            _log(f"  {run.judge} at concurrency {run.concurrency}: {run.lag_rate:g} then {run.saturate_rate:g} traces/s")
            rows.append(measure(run, model, phase_s, args.poll_s, Path(tmp)))
            _log(f"    warm-up {rows[-1]['warm_s']:.1f} s, {rows[-1]['counts']}")
    print_table(rows, args.poll_s)
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
