"""The AI gateway's cost: added latency and throughput, against calling the provider directly.

    .venv/bin/python -m bench.gateway               # 300 sequential calls each way, then 1,000 at concurrency 32
    .venv/bin/python -m bench.gateway --quick       # 50 sequential, 200 concurrent

The real path: `tracejudge serve --gateway-config` in its own process, a route to the tests'
scripted OpenAI-compatible server (tests/support/scripted_openai.py, in a child process, answering
at once), and a key with no limits. One httpx client sends the same chat completion to the scripted
server directly and to /gateway/v1/chat/completions; each gateway call goes through key lookup,
budget and rate-limit checks, litellm's real HTTP code, and is recorded as a trace (a write
transaction) before it is answered.

Figures printed: p50 and p99 of the sequential calls each way and the difference (what the gateway
adds to a call), then requests per second at concurrency 32 each way.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import httpx

from tests.support.processes import serve

BODY = {"model": "bench", "messages": [{"role": "user", "content": "What is the capital of France? Answer briefly."}]}


def _provider(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tests.support.scripted_openai import ScriptedOpenAI, text

    server = ScriptedOpenAI().start()
    server.respond_with(lambda request: text("Paris.", prompt_tokens=20, completion_tokens=2))
    queue.put(server.url)
    while True:
        time.sleep(3600)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _sequential(client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        (await client.post(url, json=BODY, headers=headers)).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _concurrent(client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int, concurrency: int) -> float:
    left = iter(range(n))

    async def worker() -> None:
        for _ in left:
            (await client.post(url, json=BODY, headers=headers)).raise_for_status()

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sequential, concurrent = (50, 200) if args.quick else (300, 1000)
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    provider = multiprocessing.Process(target=_provider, args=(queue,), daemon=True)
    provider.start()
    direct_url = queue.get(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        config = Path(tmp) / "gateway.toml"
        config.write_text(f'[routes.bench]\nmodel = "openai/gpt-4o-mini"\napi_base = "{direct_url}"\n'
                          'api_key_env = "BENCH_PROVIDER_KEY"\n')  # fmt: skip
        from mcp_server.gateway.keys import create_key
        from store import Database

        store = Database(db)
        secret = create_key(store, "bench", ["bench"]).secret
        store.close()
        with serve(db, "--gateway-config", str(config), "--no-monitors", env={"BENCH_PROVIDER_KEY": "sk-bench"}) as base:
            gateway_url = f"{base}/gateway/v1/chat/completions"

            async def run() -> None:
                limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
                async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                    direct = (f"{direct_url}/chat/completions", {"Authorization": "Bearer sk-bench"})
                    through = (gateway_url, {"Authorization": f"Bearer {secret}"})
                    await _sequential(client, *through, 20)  # warm-up: litellm's import and first client
                    await _sequential(client, *direct, 5)
                    d = await _sequential(client, *direct, sequential)
                    g = await _sequential(client, *through, sequential)
                    print(f"sequential, {sequential} calls each (ms):")
                    print(f"  direct   p50 {statistics.median(d):7.2f}  p99 {_percentile(d, 0.99):7.2f}")
                    print(f"  gateway  p50 {statistics.median(g):7.2f}  p99 {_percentile(g, 0.99):7.2f}")
                    print(f"  added    p50 {statistics.median(g) - statistics.median(d):7.2f}  "
                          f"p99 {_percentile(g, 0.99) - _percentile(d, 0.99):7.2f}")  # fmt: skip
                    rd = await _concurrent(client, *direct, concurrent, 32)
                    rg = await _concurrent(client, *through, concurrent, 32)
                    print(f"concurrency 32, {concurrent} calls each: direct {rd:,.0f} req/s, gateway {rg:,.0f} req/s")

            anyio.run(run)
    provider.terminate()


if __name__ == "__main__":
    main()
