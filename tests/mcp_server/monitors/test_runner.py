"""The monitors' loop in process, through the real MCP client for what a user does (CreateMonitor,
GetMonitor ...) and litellm's real HTTP code against the scripted model for the routing judge:
verdicts are feedback named after the judge with the monitor in their metadata, sampling takes the
share asked for, the daily budget stops a monitor cleanly and says so, and an error every
judgment would meet leaves the traces queued and the monitor failing until it is fixed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mcp_server.judges import service as judges
from mcp_server.models import ModelSettings
from mcp_server.monitors.runner import MonitorRunner
from mcp_server.monitors.service import in_sample
from mcp_server.settings import Settings
from store import Database, SpanIn, write_spans
from store import monitors as store
from tests.support.mcp_session import session
from tests.support.northwind import INSTRUCTIONS, MISROUTED, ScriptedModels, new_agent_traces
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]

ROUTING = {"kind": "categorical", "categories": ["yes", "no"]}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "monitors.db")
    judges.create_judge(database, "routing", INSTRUCTIONS, output=ROUTING, models=ModelSettings(allowed_models=None))
    yield database
    database.close()


async def judge_all(db: Database, settings: Settings, **options: object) -> MonitorRunner:
    """Rounds of the loop until a round starts nothing."""
    runner = MonitorRunner(db, settings, None, **options)
    async with anyio.create_task_group() as group:
        while await runner.poll(group):
            await runner.idle()
    return runner


def routing_feedback(db: Database) -> list[tuple[str, str, str, str]]:
    rows = db.reader().execute(
        "SELECT trace_id, value, source_type, json_extract(metadata, '$.monitor') FROM assessments "
        "WHERE name = 'routing' ORDER BY trace_id"
    )
    return [tuple(row) for row in rows]


async def test_a_monitor_judges_each_new_trace_once_and_logs_feedback_naming_the_monitor(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    models = ScriptedModels()
    scripted_openai.respond_with(models)
    settings = scripted_settings(scripted_openai).model_copy(update={"db_path": Path(db.path)})
    before = new_agent_traces(db)  # already there: the monitor watches what comes after it
    async with session(db, settings) as s:
        created = await s.call("CreateMonitor", name="routing", judges=["routing"], settle_s=0)
        assert created["judges"] == [{"name": "routing", "version": 1, "kind": "llm"}]
        assert created["status"] == "active" and created["runners"] == 0
        assert "no process is running the monitors" in created["status_message"]
        new = new_agent_traces(db)
        await judge_all(db, settings)
        await judge_all(db, settings)  # a second pass finds nothing left to judge
        detail = await s.call("GetMonitor", name="routing")
    assert models.judgments == 10
    feedback = routing_feedback(db)
    assert sorted(t for t, *_ in feedback) == sorted(new) and not set(before) & {t for t, *_ in feedback}
    assert {(source, monitor) for _, _, source, monitor in feedback} == {("LLM_JUDGE", "routing")}
    # The scripted judge says no to the misrouted roaming question, and (its blind spot) to one
    # plan change the account specialist rightly took.
    said_no = sorted(t for t, value, *_ in feedback if value == '"no"')
    assert len(said_no) == 2
    (point,) = detail["metrics"]
    assert (point["judge"], point["judgments"], point["errors"]) == ("routing", 10, 0)
    assert point["pass_rate"] == pytest.approx(0.8)
    assert point["tokens"] > 0 and point["cost_usd"] > 0 and point["mean_lag_s"] is not None
    assert detail["counts"] == {"judged": 10, "sampled_out": 0, "skipped": 0, "queued": 0, "in_flight": 0}
    assert detail["today"]["judgments"] == 10
    # The two loops above, each a process of its own as far as the store knows, polled just now.
    assert detail["runners"] == 2 and "2 server processes running" in detail["status_message"]
    # Every existing filter sees the verdicts.
    async with session(db, settings) as s:
        found = await s.call("SearchTraces", filter_string="feedback.routing = 'no'")
        misrouted = await s.call("SearchTraces", filter_string=f"feedback.routing = 'no' AND trace.text LIKE '%{MISROUTED[:-1]}%'")
    assert sorted(t["trace_id"] for t in found["traces"]) == said_no
    assert len(misrouted["traces"]) == 1


async def test_sampling_at_half_judges_the_traces_its_hash_takes_about_half(db: Database) -> None:
    settings = Settings(db_path=Path(db.path))
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="half", judges=["error_spans"], sample_rate=0.5, settle_s=0)
    ids = [f"{n:032x}" for n in range(1, 201)]
    write_spans(db, [SpanIn(trace_id=t, span_id=f"{n:016x}", name="agent", start_ns=n, end_ns=n + 1)
                     for n, t in enumerate(ids, start=1)])  # fmt: skip
    await judge_all(db, settings, concurrency=8)
    judged = store.judged_trace_ids(db, "half")
    assert judged == sorted(t for t in ids if in_sample("half", t, 0.5))
    assert 70 <= len(judged) <= 130
    assert store.state_counts(db, "half")["sampled_out"] == 200 - len(judged)


async def test_the_daily_budget_stops_a_monitor_cleanly_and_says_so(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    models = ScriptedModels()
    scripted_openai.respond_with(models)
    settings = scripted_settings(scripted_openai).model_copy(update={"db_path": Path(db.path)})
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="routing", judges=["routing"], settle_s=0, max_tokens_per_day=4_000)
        new_agent_traces(db)
        await judge_all(db, settings, concurrency=1)
        detail = await s.call("GetMonitor", name="routing")
        listed = await s.call("ListMonitors")
    counts = detail["counts"]
    assert 1 <= counts["judged"] < 10 and counts["judged"] + counts["skipped"] == 10
    assert detail["status"] == "limited" and listed["monitors"][0]["status"] == "limited"
    assert "max_tokens_per_day=4,000" in detail["status_message"] and "00:00 UTC" in detail["status_message"]
    assert all("max_tokens_per_day=4,000" in reason for reason in detail["skipped_because"])
    assert sum(detail["skipped_because"].values()) == counts["skipped"]
    assert detail["today"]["tokens"] <= 4_000
    assert len(routing_feedback(db)) == counts["judged"] == models.judgments
    # A larger limit (UpdateMonitor) lets it go on with what comes next; the skipped stay skipped.
    async with session(db, settings) as s:
        updated = await s.call("UpdateMonitor", name="routing", max_tokens_per_day=0)
        assert updated["status"] == "active" and updated["max_tokens_per_day"] is None
        new_agent_traces(db)
        await judge_all(db, settings)
        after = await s.call("GetMonitor", name="routing")
    assert after["counts"]["judged"] == counts["judged"] + 10


async def test_without_a_judge_model_the_monitor_fails_keeping_its_traces_and_recovers_when_one_is_set(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(ScriptedModels())
    bare = Settings(db_path=Path(db.path))  # no TRACEJUDGE_JUDGE_MODEL
    async with session(db, bare) as s:
        await s.call("CreateMonitor", name="routing", judges=["routing"], settle_s=0)
        new_agent_traces(db)
        await judge_all(db, bare)
        failing = await s.call("GetMonitor", name="routing")
    assert failing["status"] == "failing"
    assert "TRACEJUDGE_JUDGE_MODEL" in failing["status_message"]
    assert failing["counts"]["judged"] == 0 and failing["counts"]["queued"] >= 1
    assert failing["counts"]["queued"] + failing["counts"]["in_flight"] + failing["counts"]["judged"] <= 10
    settings = scripted_settings(scripted_openai).model_copy(update={"db_path": Path(db.path)})
    await judge_all(db, settings)  # a server restarted with a model: nothing was lost
    async with session(db, settings) as s:
        fixed = await s.call("GetMonitor", name="routing")
    assert fixed["status"] == "active" and fixed["counts"]["judged"] == 10


async def test_a_paused_monitor_judges_nothing_and_backfill_queues_older_traces_for_it(db: Database) -> None:
    settings = Settings(db_path=Path(db.path))
    old = new_agent_traces(db)
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="errors", judges=["error_spans", "latency"], settle_s=0)
        await s.call("UpdateMonitor", name="errors", paused=True)
        report = await s.call("BackfillMonitor", name="errors")
        assert report["queued"] == 10 and "paused" in report["message"]
        await judge_all(db, settings)
        paused = await s.call("GetMonitor", name="errors")
        assert paused["status"] == "paused" and paused["counts"]["queued"] == 10
        await s.call("UpdateMonitor", name="errors", paused=False)
        await judge_all(db, settings)
        done = await s.call("GetMonitor", name="errors", granularity="day")
    assert store.judged_trace_ids(db, "errors") == sorted(old)
    assert {p["judge"] for p in done["metrics"]} == {"error_spans", "latency"}
    assert all(p["judgments"] == 10 for p in done["metrics"])


async def test_the_tools_refuse_bad_monitors_saying_what_to_give(db: Database) -> None:
    async with session(db) as s:
        cases = {
            "name": await s.error("CreateMonitor", name="no spaces", judges=["error_spans"]),
            "judge": await s.error("CreateMonitor", name="m", judges=["nobody"]),
            "code": await s.error("CreateMonitor", name="m", judges=["os:system"]),
            "rate": await s.error("CreateMonitor", name="m", judges=["error_spans"], sample_rate=0),
            "filter": await s.error("CreateMonitor", name="m", judges=["error_spans"], filter_string="nope = 1"),
            "waits": await s.error("CreateMonitor", name="m", judges=["error_spans"], settle_s=60, timeout_s=10),
            "limit": await s.error("CreateMonitor", name="m", judges=["error_spans"], max_tokens_per_day=-5),
            "unknown": await s.error("GetMonitor", name="absent"),
        }
        await s.call("CreateMonitor", name="m", judges=["error_spans"])
        cases["twice"] = await s.error("CreateMonitor", name="m", judges=["latency"])
        cases["nothing"] = await s.error("UpdateMonitor", name="m")
        listed = await s.call("ListMonitors")
    assert "letters, digits" in cases["name"]
    assert "ListJudges" in cases["judge"] and "ListJudges" in cases["code"]
    assert "sample_rate" in cases["rate"] and "above 0" in cases["rate"]
    assert "nope" in cases["filter"]
    assert "timeout_s (10) must be at least settle_s (60)" in cases["waits"]
    assert "max_tokens_per_day must be a positive integer" in cases["limit"]
    assert "ListMonitors" in cases["unknown"]
    assert "exists already" in cases["twice"] and "UpdateMonitor" in cases["twice"]
    assert "nothing to change" in cases["nothing"]
    assert [m["name"] for m in listed["monitors"]] == ["m"]


async def test_deleting_a_monitor_keeps_the_feedback_it_logged(db: Database) -> None:
    settings = Settings(db_path=Path(db.path))
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="errors", judges=["error_spans"], settle_s=0)
        new_agent_traces(db)
        await judge_all(db, settings)
        deleted = await s.call("DeleteMonitor", name="errors")
        assert deleted["judgments"] == 10 and "stays" in deleted["message"]
        assert "ListMonitors" in await s.error("GetMonitor", name="errors")
        kept = await s.call("SearchTraces", filter_string="feedback.error_spans IS NOT NULL", max_results=50)
    assert len(kept["traces"]) == 10


async def test_a_judgment_ending_while_traces_wait_starts_the_next_at_once_not_a_poll_later(db: Database) -> None:
    # Regression (bench/monitors.py): the loop slept poll_s between rounds, so a slot freed by a
    # judgment idled until the next round, and throughput was at most concurrency / poll_s.
    settings = Settings(db_path=Path(db.path))
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="errors", judges=["error_spans"], settle_s=0)
    ids = [f"{n:032x}" for n in range(1, 11)]
    write_spans(db, [SpanIn(trace_id=t, span_id=f"{n:016x}", name="agent", start_ns=n, end_ns=n + 1)
                     for n, t in enumerate(ids, start=1)])  # fmt: skip
    runner = MonitorRunner(db, settings, None, concurrency=1, poll_s=300)
    with anyio.fail_after(30):  # one round per trace, each right after the judgment before it
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            while len(store.judged_trace_ids(db, "errors")) < len(ids):
                await anyio.sleep(0.02)
            group.cancel_scope.cancel()
    assert store.judged_trace_ids(db, "errors") == ids
