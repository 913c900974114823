"""Evaluate's throughput: 1,000 traces x 2 LLM judges against a model that answers in 200 ms.

    .venv/bin/python -m bench.judge_throughput             # 1,000 traces; concurrency 32, 64, 8
    .venv/bin/python -m bench.judge_throughput --quick     # 100 traces; concurrency 32
    .venv/bin/python -m bench.judge_throughput --profile   # also cProfile one concurrency-32 run
    .venv/bin/python -m bench.judge_throughput --backlog 128  # the scripted server's listen queue 128, not 5

The real path: the traces are stored through OTLP decoding and `write_spans` (bench.workload's
agent traces), two judges are stored with `service.create_judge` ('helpful', a bool, and
'quality', an int from 1 to 5), and `evaluate(...)` runs them with litellm's real HTTP code
against the scripted OpenAI-compatible server of the tests (tests/support/scripted_openai.py),
which answers every chat completion after LATENCY_S. The server runs in a child process, as a
real model server would: its threads then take no CPU from the evaluation being measured.

Figures printed, per concurrency (max_concurrency of evaluate):
- pairs (traces x judges) and the wall time of the evaluate call;
- the limit, pairs x latency / concurrency: the wall time if nothing but the model took time;
- limit / wall (target >= 0.9 at concurrency 32) and the overhead per judgment,
  (wall - limit) x concurrency / pairs: what each judgment added to the time its slot was held;
- the largest number of requests the model server held at once (from its own arrival log: a
  request is held from its arrival until its answer LATENCY_S later), so the concurrency is real;
- the connections the kernel dropped because the scripted server's listen queue was full (each
  costs its request a SYN retransmission, 1 s later; --backlog enlarges the queue);
- the median and p90 of the per-pair latency evaluate stored, less the model's LATENCY_S: the
  time run_judge adds around the model call (rendering, litellm, parsing, logging feedback).
A warm-up evaluation of a few traces runs first (litellm's import and first client take
seconds), and is reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import multiprocessing
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import anyio

from bench.timing import p90
from bench.workload import agent_traces, batches, request
from mcp_server.evaluation.run import evaluate
from mcp_server.ingest.otlp import decode_request
from mcp_server.judges import registry, service
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database, write_spans
from store.evaluations import list_results
from store.traces import trace_exists

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

LATENCY_S = 0.200
TRACES, QUICK_TRACES = 1_000, 100
SPANS_PER_TRACE = 9
CONTENT_CHARS = 2_000
"""Each span carries ~2,000 characters; the judges read the root span's input and output."""
CONCURRENCIES, QUICK_CONCURRENCIES = (32, 64, 8), (32,)
TARGET_RATIO = 0.9
WARM_UP_TRACES = 4
JUDGES = ("helpful", "quality")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The scripted model, in a child process.


def _answer(request_json: dict[str, Any]) -> Any:
    """Each judge's structured answer after LATENCY_S; the judge is told by its instructions."""
    from tests.support.scripted_openai import json_reply

    prompt = " ".join(str(m.get("content")) for m in request_json.get("messages", []))
    value: bool | int = 4 if "QUALITY:" in prompt else True
    return json_reply({"rationale": "scripted answer", "value": value}).after(LATENCY_S)


def _serve(conn: Connection, backlog: int | None = None) -> None:
    """Child process: run the scripted server; answer 'arrivals' with the chat requests' arrival
    times since the last ask (and the problems it met), stop on 'stop'. `backlog` replaces
    http.server's listen queue of 5 (--backlog)."""
    import socketserver

    from tests.support.scripted_openai import ScriptedOpenAI

    if backlog is not None:
        socketserver.TCPServer.request_queue_size = backlog

    server = ScriptedOpenAI().start()
    server.respond_with(_answer)
    conn.send(server.url)
    seen = 0
    try:
        while (command := conn.recv()) != "stop":
            assert command == "arrivals", command
            chat = server.chat_requests
            conn.send(([r.at for r in chat[seen:]], list(server.problems), time.process_time()))
            seen = len(chat)
    finally:
        server.stop()


class ScriptedModelProcess:
    """The scripted OpenAI-compatible server in a child process (spawned: no forked threads)."""

    def __init__(self, backlog: int | None = None) -> None:
        self.backlog = backlog

    def __enter__(self) -> ScriptedModelProcess:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.backlog), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the scripted model server did not start within 60 s")
        self.url: str = self._conn.recv()
        return self

    def arrivals(self) -> tuple[list[float], list[str], float]:
        """Arrival times (time.monotonic) of the chat requests since the last call, the problems
        the server met, and the CPU seconds it has used so far."""
        self._conn.send("arrivals")
        return self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen queue was full (TcpExt
    ListenOverflows, all sockets on this machine); None where /proc/net/netstat is missing. Each
    drop costs its client a SYN retransmission, 1 s later: the scripted server closes every
    connection, so each request opens one, and its listen queue is http.server's 5."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(fields["ListenOverflows"]) if "ListenOverflows" in fields else None
    return None


def max_in_flight(arrivals: list[float], hold_s: float) -> int:
    """The most requests held at once, each from its arrival for hold_s seconds."""
    ordered = sorted(arrivals)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - hold_s:
            first += 1
        most = max(most, last - first + 1)
    return most


# The workload.


def store_traces(db: Database, count: int, spans_per_trace: int = SPANS_PER_TRACE,
                 content_chars: int = CONTENT_CHARS) -> list[str]:
    """`count` agent traces (bench.workload) stored as OTLP would send them, decoded and written
    in batches of 512 spans; their ids."""
    trace_ids: dict[str, None] = {}  # ordered, without repeats
    spans = (span for trace in agent_traces(count, spans_per_trace, content_chars) for span in trace)
    for chunk in batches(spans, 512):
        decoded = decode_request(request(chunk).SerializeToString(), "protobuf").spans
        write_spans(db, decoded)
        trace_ids.update(dict.fromkeys(s.trace_id for s in decoded))
    return list(trace_ids)


def create_judges(db: Database) -> None:
    service.create_judge(
        db, "helpful",
        "HELPFUL: does the agent's answer {{ outputs }} respond to the customer's request {{ inputs }}? "
        "Answer true only if it addresses what was asked.", models=OPERATOR,
    )
    service.create_judge(
        db, "quality",
        "QUALITY: rate the answer {{ outputs }} to {{ inputs }} from 1 (useless) to 5 (complete and clear).",
        output={"kind": "int", "minimum": 1, "maximum": 5}, models=OPERATOR,
    )


def judge_settings(db: Database, model_url: str) -> Settings:
    # gpt-4o-mini: a model litellm knows takes response_format and has a price, so structured
    # output and cost take their real paths.
    return Settings(
        db_path=db.path,
        models=ModelSettings(judge_model="openai:/gpt-4o-mini", api_base=model_url, api_key="sk-scripted",
                             timeout_s=30),
    )


# The measurement.


async def measure(db: Database, settings: Settings, model: ScriptedModelProcess, trace_ids: list[str],
                  concurrency: int, profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """One evaluate call over every trace; its figures."""
    *_, server_cpu = model.arrivals()  # forgets earlier requests
    overflows = listen_overflows()
    if profile is not None:
        profile.enable()
    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    run = await evaluate(db, list(JUDGES), settings=settings, trace_ids=trace_ids, max_concurrency=concurrency,
                         name=f"throughput c={concurrency}")
    wall = time.perf_counter() - started
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    if profile is not None:
        profile.disable()
    arrivals, problems, server_cpu_now = model.arrivals()
    overflows_now = listen_overflows()
    pairs = run.pairs_done
    limit = pairs * LATENCY_S / concurrency
    latencies = [r.latency_s - LATENCY_S for r in list_results(db, run.run_id, limit=pairs + 1)]
    return {
        "concurrency": concurrency, "pairs": pairs, "errors": run.errors, "wall": wall, "limit": limit,
        "ratio": limit / wall, "overhead_ms": (wall - limit) * concurrency / pairs * 1000,
        "requests": len(arrivals), "in_flight": max_in_flight(arrivals, LATENCY_S),
        "judge_p50_ms": statistics.median(latencies) * 1000, "judge_p90_ms": p90(latencies) * 1000,
        "cpu_ms": cpu / pairs * 1000, "loop_cpu_ms": loop_cpu / pairs * 1000,
        "server_cpu_ms": (server_cpu_now - server_cpu) / max(len(arrivals), 1) * 1000,
        "problems": problems, "status": run.status,
        "syn_drops": None if overflows is None or overflows_now is None else overflows_now - overflows,
    }


BREAKDOWN_CALLS = 256


async def _cpu_per_call(make_call: Callable[[int], Awaitable[Any]], concurrency: int = 32) -> tuple[float, float]:
    """(event-loop thread, whole process) CPU ms per call over BREAKDOWN_CALLS calls, `concurrency`
    at a time."""
    limiter = anyio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with limiter:
            await make_call(index)

    cpu, loop_cpu = time.process_time(), time.thread_time()
    async with anyio.create_task_group() as tg:
        for index in range(BREAKDOWN_CALLS):
            tg.start_soon(one, index)
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    return loop_cpu / BREAKDOWN_CALLS * 1000, cpu / BREAKDOWN_CALLS * 1000


async def breakdown(db: Database, settings: Settings, trace_ids: list[str]) -> None:
    """CPU per judgment, layer by layer: litellm alone, then each layer of ours added on top, so
    the differences say where the CPU goes (the same judge, prompt and answer throughout)."""
    from mcp_server.judges.llm_judge import NOT_GIVEN, gather, judge_values, system_prompt, verdict_schema
    from mcp_server.judges.rendering import render_instructions
    from mcp_server.judges.runner import run_judge
    from mcp_server.models import complete
    from mcp_server.models.litellm_import import load_litellm
    from mcp_server.models.structured import response_format

    litellm = load_litellm()
    judge = registry.get_judge(db, "helpful")
    ids = [trace_ids[i % len(trace_ids)] for i in range(BREAKDOWN_CALLS)]
    values = [gather(db, judge, t, inputs=NOT_GIVEN, outputs=NOT_GIVEN, expectations=NOT_GIVEN) for t in ids]
    messages = [
        [{"role": "system", "content": system_prompt(judge, t)},
         {"role": "user", "content": render_instructions(judge.instructions, v)[0]}]
        for t, v in zip(ids, values, strict=True)
    ]
    schema = verdict_schema(judge)
    models = settings.models
    key = models.api_key.get_secret_value() if models.api_key else None
    responses: list[Any] = []

    async def raw(i: int) -> None:
        responses.append(await litellm.acompletion(
            model="openai/gpt-4o-mini", messages=messages[i], api_base=models.api_base, api_key=key,
            response_format=response_format(schema, "judge_verdict"), max_retries=0, num_retries=0,
            drop_params=True, timeout=models.timeout_s,
        ))

    layers: list[tuple[str, Callable[[int], Awaitable[Any]]]] = [
        ("litellm.acompletion alone (same request)", raw),
        ("+ complete(): retries, cost, parsing", lambda i: complete(
            messages[i], settings=models, response_schema=schema, schema_name="judge_verdict")),
        ("+ judge_values(): prompt, verdict", lambda i: judge_values(judge, ids[i], values[i], settings=models)),
        ("+ run_judge(record=False): trace check, data read", lambda i: run_judge(
            db, judge, ids[i], settings=settings, record=False)),
        ("+ run_judge(): feedback logged", lambda i: run_judge(db, judge, ids[i], settings=settings)),
    ]
    print(f"\nCPU per judgment, layer by layer ({BREAKDOWN_CALLS} calls at concurrency 32, ms):")
    print(f"{'layer':52} {'loop thread':>11} {'process':>8}")
    for label, call in layers:
        loop_ms, process_ms = await _cpu_per_call(call)
        print(f"{label:52} {loop_ms:>11.2f} {process_ms:>8.2f}", flush=True)
    started = time.thread_time()
    for response in responses:
        litellm.completion_cost(completion_response=response, model="openai/gpt-4o-mini")
    cost_ms = (time.thread_time() - started) / len(responses) * 1000
    print(f"{'of which litellm.completion_cost, once (litellm prices each response; complete() reads its figure)':52} "
          f"{cost_ms:>11.2f}")
    started = time.thread_time()
    for trace_id in ids:
        trace_exists(db, trace_id)
    exists_ms = (time.thread_time() - started) / len(ids) * 1000
    print(f"{'of which trace_exists (run_judge, on the loop thread)':52} {exists_ms:>11.2f}")


def _print_profile(profile: cProfile.Profile) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(35)
    print("\ncProfile of the concurrency-32 run (event-loop thread only; SQLite writes run in worker threads):")
    print(out.getvalue())


async def run(args: argparse.Namespace, db: Database, model: ScriptedModelProcess, trace_ids: list[str]) -> list[dict[str, Any]]:
    settings = judge_settings(db, model.url)
    started = time.perf_counter()
    warm = await measure(db, settings, model, trace_ids[:WARM_UP_TRACES], WARM_UP_TRACES)
    print(f"warm-up: {warm['pairs']} pairs in {time.perf_counter() - started:.2f} s "
          "(litellm's import and first HTTP client included)")
    rows = []
    for concurrency in args.concurrency:
        _log(f"  evaluating {len(trace_ids):,} traces x {len(JUDGES)} judges at concurrency {concurrency}")
        rows.append(await measure(db, settings, model, trace_ids, concurrency))
    print(f"{'concurrency':>11} {'pairs':>6} {'wall s':>7} {'limit s':>8} {'limit/wall':>10} "
          f"{'overhead ms/judgment':>20} {'model max in flight':>19} {'errors':>6}")
    for row in rows:
        print(f"{row['concurrency']:>11} {row['pairs']:>6,} {row['wall']:>7.2f} {row['limit']:>8.2f} "
              f"{row['ratio']:>10.3f} {row['overhead_ms']:>20.1f} {row['in_flight']:>19} {row['errors']:>6}")
        if row["problems"] or row["errors"] or row["requests"] != row["pairs"]:
            print(f"  !! {row['errors']} errors, {row['requests']} model requests for {row['pairs']} pairs, "
                  f"server problems: {row['problems'][:1]}")
    print("\nwhere the time goes (ms per judgment; this process's CPU over all its threads, and the event "
          "loop's thread alone; the model server's CPU per request, in its own process):")
    print(f"{'concurrency':>11} {'run_judge extra p50':>19} {'p90':>7} {'CPU':>6} {'loop CPU':>8} {'server CPU':>10}")
    for row in rows:
        print(f"{row['concurrency']:>11} {row['judge_p50_ms']:>19.1f} {row['judge_p90_ms']:>7.1f} "
              f"{row['cpu_ms']:>6.2f} {row['loop_cpu_ms']:>8.2f} {row['server_cpu_ms']:>10.2f}")
    drops = ", ".join(f"{'n/a' if r['syn_drops'] is None else r['syn_drops']} at {r['concurrency']}" for r in rows)
    print(f"connections the kernel dropped, the scripted server's listen queue full (1 s lost each): {drops}")
    if args.breakdown:
        await breakdown(db, settings, trace_ids)
    if args.profile:
        profile = cProfile.Profile()
        row = await measure(db, settings, model, trace_ids, 32, profile)
        print(f"\nprofiled run (concurrency 32, slower under cProfile): wall {row['wall']:.2f} s, "
              f"limit/wall {row['ratio']:.3f}")
        _print_profile(profile)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TRACES} traces at concurrency 32 only")
    parser.add_argument("--traces", type=int, help=f"number of traces (default {TRACES:,}, --quick {QUICK_TRACES})")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")],
                        help="comma-separated max_concurrency values (default 32,64,8; --quick 32)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also measure the CPU per judgment of each layer (litellm alone, complete, run_judge ...)")
    parser.add_argument("--profile", action="store_true", help="also run concurrency 32 under cProfile")
    parser.add_argument("--backlog", type=int,
                        help="the scripted server's listen queue (default http.server's 5, which drops "
                             "connections at concurrency 32 and above)")
    args = parser.parse_args(argv)
    args.traces = args.traces or (QUICK_TRACES if args.quick else TRACES)
    args.concurrency = args.concurrency or list(QUICK_CONCURRENCIES if args.quick else CONCURRENCIES)
    with tempfile.TemporaryDirectory() as tmp, ScriptedModelProcess(args.backlog) as model:
        db = Database(Path(tmp) / "judges.db")
        started = time.perf_counter()
        trace_ids = store_traces(db, args.traces)
        create_judges(db)
        print(f"{len(trace_ids):,} traces of {SPANS_PER_TRACE} spans stored in {time.perf_counter() - started:.1f} s; "
              f"judges {', '.join(JUDGES)}; model answers after {LATENCY_S * 1000:.0f} ms (scripted server, "
              "child process)")
        rows = asyncio.run(run(args, db, model, trace_ids))
        db.close()
    at_32 = [r for r in rows if r["concurrency"] == 32]
    if at_32:
        ratio = at_32[0]["ratio"]
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"target limit/wall >= {TARGET_RATIO} at concurrency 32: {verdict} ({ratio:.3f})")


if __name__ == "__main__":
    main()
