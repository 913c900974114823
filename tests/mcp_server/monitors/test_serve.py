"""Monitors inside `tracejudge serve`, as a user runs them: the Northwind demo agent streams new
traces over OTLP (the real OpenTelemetry SDK exporter) while the server runs; a monitor created
over MCP (streamable HTTP) with the routing judge, answered by the scripted model through
litellm's real HTTP code, judges each completed trace exactly once: across a server killed part
way and started again, and with two servers on one store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mcp_server.demo.agent import build_conversations, demo_resource
from mcp_server.judges import service as judges
from mcp_server.models import ModelSettings
from store import Database
from tests.support.northwind import INSTRUCTIONS, ScriptedModels
from tests.support.processes import serve_process
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai
from tests.support.webhooks import SECRET, Receiver

__all__ = ["scripted_openai"]

pytestmark = pytest.mark.slow


def stream(url: str) -> list[str]:
    """The demo agent answers its ten messages, exporting to `url` as an agent would; the trace ids."""
    provider = TracerProvider(resource=demo_resource())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=30)))
    turns = build_conversations(provider)
    assert provider.force_flush(30_000)
    provider.shutdown()
    return [turn.trace_id for turn in turns]


def environment(models: ScriptedOpenAI) -> dict[str, str]:
    return {
        "TRACEJUDGE_JUDGE_MODEL": "openai:/gpt-4o-mini", "TRACEJUDGE_JUDGE_API_BASE": models.url,
        "TRACEJUDGE_JUDGE_API_KEY": "sk-scripted", "TRACEJUDGE_MONITOR_POLL_S": "0.1",
        "TRACEJUDGE_MONITOR_LEASE_S": "2", "TRACEJUDGE_MONITOR_CONCURRENCY": "2",
    }  # fmt: skip


def verdicts(path: Path) -> dict[str, int]:
    """Trace id -> how many routing verdicts the monitor logged on it."""
    db = Database(path)
    try:
        rows = db.reader().execute(
            "SELECT trace_id, count(*) FROM assessments WHERE name = 'routing' "
            "AND json_extract(metadata, '$.monitor') = 'routing' GROUP BY trace_id"
        )
        return dict(rows.fetchall())
    finally:
        db.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


async def create_monitor(url: str) -> dict:
    async with Client(f"{url}/mcp") as client:
        result = await client.call_tool("CreateMonitor", {"name": "routing", "judges": ["routing"], "settle_s": 0.5,
                                                          "timeout_s": 5})  # fmt: skip
    assert not result.is_error, result.content
    return result.structured_content


async def get_monitor(url: str) -> dict:
    async with Client(f"{url}/mcp") as client:
        result = await client.call_tool("GetMonitor", {"name": "routing"})
    assert not result.is_error, result.content
    return result.structured_content


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "live.db"
    db = Database(path)
    judges.create_judge(db, "routing", INSTRUCTIONS, output={"kind": "categorical", "categories": ["yes", "no"]},
                        models=ModelSettings(allowed_models=None))  # fmt: skip
    db.close()
    return path


async def test_a_monitor_judges_each_streamed_trace_once_across_a_server_killed_and_started_again(
    store: Path, scripted_openai: ScriptedOpenAI
) -> None:
    models = ScriptedModels()
    scripted_openai.respond_with(lambda request: models(request).after(0.3))  # slow enough to kill it mid-way
    with serve_process(store, env=environment(scripted_openai)) as (url, process):
        await create_monitor(url)
        first = stream(url)
        wait_until(lambda: len(verdicts(store)) >= 2, "the first verdicts")
        process.kill()  # no chance to give its leases back: they expire
        process.wait()
    partial = verdicts(store)
    assert len(partial) < 10, "the server finished before it was killed; nothing was tested"
    with serve_process(store, env=environment(scripted_openai)) as (url, _):
        second = stream(url)
        wait_until(lambda: len(verdicts(store)) == 20, "all twenty traces judged")
        detail = await get_monitor(url)
    judged = verdicts(store)
    assert set(judged) == set(first) | set(second)
    assert set(judged.values()) == {1}, "a trace was judged twice"
    assert {t: 1 for t in partial} == {t: judged[t] for t in partial}
    assert detail["counts"] == {"judged": 20, "sampled_out": 0, "skipped": 0, "queued": 0, "in_flight": 0}
    (point,) = detail["metrics"]
    assert point["judgments"] == 20 and point["pass_rate"] == pytest.approx(0.8)  # 2 of 10 said no, twice


async def test_two_servers_on_one_store_judge_each_trace_once(store: Path, scripted_openai: ScriptedOpenAI) -> None:
    models = ScriptedModels()
    scripted_openai.respond_with(lambda request: models(request).after(0.2))
    env = environment(scripted_openai)
    with serve_process(store, env=env) as (a, _), serve_process(store, env=env) as (b, _):
        await create_monitor(a)
        sent = stream(a) + stream(b) + stream(a)
        wait_until(lambda: len(verdicts(store)) == 30, "all thirty traces judged")
        detail = await get_monitor(b)
    judged = verdicts(store)
    assert set(judged) == set(sent) and set(judged.values()) == {1}
    assert models.judgments == 30
    assert detail["counts"]["judged"] == 30


async def test_serve_checks_alert_rules_and_posts_their_webhook(store: Path, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.respond_with(ScriptedModels())
    receiver = Receiver()
    env = environment(scripted_openai) | {"TRACEJUDGE_WEBHOOK_HOSTS": "127.0.0.1", "TRACEJUDGE_WEBHOOK_SECRET": SECRET}
    try:
        with serve_process(store, env=env) as (url, _):
            await create_monitor(url)
            async with Client(f"{url}/mcp") as client:
                result = await client.call_tool("CreateAlertRule", {
                    "name": "routing-drop", "monitor": "routing", "condition": "routing/pass_rate < 0.9",
                    "min_judgments": 10, "webhook_url": receiver.url})  # fmt: skip
                assert not result.is_error, result.content
            stream(url)  # 2 of the 10 are judged 'no': a pass rate of 0.8
            wait_until(lambda: len(receiver.posts) == 1, "the alert's webhook")
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    sent = json.loads(receiver.posts[0][1])
    assert (sent["event"], sent["judgments"], sent["value"]) == ("fired", 10, pytest.approx(0.8))
