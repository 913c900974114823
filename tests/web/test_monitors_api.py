"""The monitors' JSON API through a real server over HTTP: the monitors and a monitor answer what
ListMonitors and GetMonitor answer over MCP (the list with each monitor's last 24 hours beside it); a
change is UpdateMonitor's (pause, resume, sample rate, a limit removed by 0) and a backfill
BackfillMonitor's; writes need the request header and a read-only server refuses them; errors say
what to do. The monitor's judgments are made by a real MonitorRunner driven in process, as `tracejudge
serve` drives it, with its two code judges (no model)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from mcp_server.monitors import service
from mcp_server.monitors.runner import MonitorRunner
from mcp_server.settings import Settings
from store import Database
from store.monitors import HOUR_NS
from tests.support.live_server import LiveServer
from tests.web.conftest import demo_server, in_a_thread
from tests.web.test_api import WRITE, tool

BUILT_IN = ["error_spans", "latency"]
JUDGES = [*BUILT_IN, "unsure"]
UNSURE = "tests.web.test_monitors_api:unsure"


def unsure(trace) -> bool:
    """A code judge that cannot decide (raises) on the traces whose id starts with 0 to 3: two of the demo's."""
    if trace.trace_id[0] in "0123":
        raise ValueError("no verdict for a trace like this")
    return True


async def _judge_queued(db: Database) -> int:
    runner = MonitorRunner(db, Settings(db_path=db.path), None)
    judged = 0
    async with anyio.create_task_group() as group:
        while started := await runner.poll(group):
            judged += started
            await runner.idle()
    return judged


def judge_queued(db: Database, monkeypatch: pytest.MonkeyPatch | None = None, hours_ago: int = 0) -> int:
    """Judge every queued trace with a real MonitorRunner, as `tracejudge serve` would; with `hours_ago`
    the clock the runner and the store read is set back that many hours, so the judgments fall into
    an earlier hour of the metrics (a monitor that has been running a while). Returns how many."""
    if not hours_ago:
        return in_a_thread(_judge_queued, db)
    real = time.time_ns
    assert monkeypatch is not None
    with monkeypatch.context() as patched:
        patched.setattr(time, "time_ns", lambda: real() - hours_ago * HOUR_NS)
        return in_a_thread(_judge_queued, db)


def trace_ids_by_start(db: Database) -> list[tuple[str, int]]:
    return [tuple(row) for row in db.reader().execute("SELECT trace_id, start_ns FROM traces ORDER BY start_ns")]


def monitor_over_two_hours(db: Database, monkeypatch: pytest.MonkeyPatch, name: str = "quality") -> None:
    """Monitor `name` of error_spans, latency and unsure (code judges, as only the CLI may give) that
    judged the 4 oldest demo traces 3 hours ago and the other 6 now (unsure failing on 2 of them)."""
    service.create_monitor(db, name, [*BUILT_IN, UNSURE], allow_import=True)
    starts = trace_ids_by_start(db)
    assert service.backfill(db, name, end_ms=starts[4][1] / 1e6).queued == 4
    assert judge_queued(db, monkeypatch, hours_ago=3) == 4
    assert service.backfill(db, name).queued == 6
    assert judge_queued(db) == 6


@pytest.fixture
def monitored(web_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    monitor_over_two_hours(web_server.db, monkeypatch)
    return web_server


def stored(server: LiveServer, name: str = "quality") -> service.Monitor:
    """The monitor as the store has it now."""
    return next(m for m in service.list_monitors(server.db).monitors if m.name == name)


async def test_the_monitors_answer_as_list_monitors_with_each_ones_last_24_hours_beside(monitored: LiveServer) -> None:
    listed = httpx2.get(f"{monitored.url}/api/monitors").json()
    metrics = listed.pop("metrics")
    assert listed == await tool(monitored, "ListMonitors", {})
    (monitor,) = listed["monitors"]
    assert (monitor["name"], monitor["status"], monitor["counts"]["judged"]) == ("quality", "active", 10)
    assert metrics["quality"] == service.get_monitor(monitored.db, "quality").model_dump(mode="json")["metrics"]
    assert sorted({p["judge"] for p in metrics["quality"]}) == JUDGES
    assert [p["judgments"] for p in metrics["quality"] if p["judge"] == "error_spans"] == [4, 6]
    assert [p["errors"] for p in metrics["quality"] if p["judge"] == "unsure"] == [0, 2]


async def test_a_monitor_answers_as_get_monitor_per_hour_and_per_day(monitored: LiveServer) -> None:
    url = f"{monitored.url}/api/monitors/quality"
    for params in ({}, {"granularity": "day"}, {"granularity": "hour", "periods": 2, "recent": 3}):
        answer = httpx2.get(url, params=params)
        assert answer.status_code == 200, answer.text
        assert answer.json() == await tool(monitored, "GetMonitor", {"name": "quality", **params}), params
    hourly = httpx2.get(url).json()
    passing = [p["pass_rate"] for p in hourly["metrics"] if p["judge"] == "error_spans"]
    assert len(passing) == 2 and sum(passing) < 2  # one demo trace has an error span
    assert len(httpx2.get(url, params={"periods": 2, "recent": 3}).json()["recent"]) == 3


def test_pausing_resuming_and_changing_a_monitor_is_update_monitor(monitored: LiveServer) -> None:
    url = f"{monitored.url}/api/monitors/quality"
    assert httpx2.post(url, json={"paused": True}).status_code == 403  # no request header: not our page
    assert stored(monitored).status == "active"
    paused = httpx2.post(url, json={"paused": True}, headers=WRITE)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and stored(monitored).status == "paused"
    changed = httpx2.post(url, json={"paused": False, "sample_rate": 0.5, "max_judgments_per_hour": 100}, headers=WRITE).json()
    assert (changed["status"], changed["sample_rate"], changed["max_judgments_per_hour"]) == ("active", 0.5, 100)
    removed = httpx2.post(url, json={"max_judgments_per_hour": 0, "sample_rate": None}, headers=WRITE).json()
    assert (removed["max_judgments_per_hour"], removed["sample_rate"]) == (None, 0.5)  # 0 removes; null leaves it
    assert stored(monitored).model_dump(exclude={"updated_time"}) == service.Monitor.model_validate(removed).model_dump(
        exclude={"updated_time"})  # fmt: skip


def test_a_backfill_is_backfill_monitor_and_says_how_many_it_queued(web_server: LiveServer) -> None:
    service.create_monitor(web_server.db, "fresh", BUILT_IN)
    url = f"{web_server.url}/api/monitors/fresh/backfill"
    recent = httpx2.post(url, json={"start_ms": time.time() * 1000 - 86_400_000}, headers=WRITE).json()
    assert (recent["matched"], recent["queued"]) == (0, 0)  # the demo traces are from 2025
    everything = httpx2.post(url, json={}, headers=WRITE)
    assert everything.status_code == 200, everything.text
    report = everything.json()
    assert (report["matched"], report["queued"], report["sampled_out"]) == (10, 10, 0)
    assert report["message"].startswith("10 traces queued (0 left out by sample_rate=1); `tracejudge serve` judges them next")
    assert stored(web_server, "fresh").counts.queued == 10
    assert judge_queued(web_server.db) == 10
    assert stored(web_server, "fresh").counts.judged == 10


def test_errors_say_what_to_do(monitored: LiveServer) -> None:
    url = f"{monitored.url}/api/monitors"

    def answer(response: httpx2.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]

    status, error = answer(httpx2.get(f"{url}/nobody"))
    assert status == 404 and "'nobody' is not in this store" in error and "ListMonitors" in error
    status, error = answer(httpx2.post(f"{url}/nobody", json={"paused": True}, headers=WRITE))
    assert status == 404 and "'nobody'" in error
    status, error = answer(httpx2.post(f"{url}/nobody/backfill", json={}, headers=WRITE))
    assert status == 404 and "'nobody'" in error
    status, error = answer(httpx2.get(f"{url}/quality", params={"granularity": "week"}))
    assert status == 400 and "granularity must be 'hour' or 'day'" in error
    status, error = answer(httpx2.get(f"{url}/quality", params={"periods": "many"}))
    assert status == 400 and "periods must be a whole number" in error
    status, error = answer(httpx2.post(f"{url}/quality", json={"paused": True, "name": "other"}, headers=WRITE))
    assert status == 400 and "unknown fields name" in error
    status, error = answer(httpx2.post(f"{url}/quality", json={"paused": "yes"}, headers=WRITE))
    assert status == 400 and "paused must be true or false" in error
    status, error = answer(httpx2.post(f"{url}/quality", json={"sample_rate": 2}, headers=WRITE))
    assert status == 400 and "sample_rate must be a number above 0 and at most 1" in error
    status, error = answer(httpx2.post(f"{url}/quality", json={}, headers=WRITE))
    assert status == 400 and "nothing to change" in error
    status, error = answer(httpx2.post(f"{url}/quality", json={"judges": ["tests.web.test_monitors_api:stored"]},
                                       headers=WRITE))  # fmt: skip
    assert status == 404 and "tests.web.test_monitors_api:stored" in error  # a page names judges, never code
    status, error = answer(httpx2.post(f"{url}/quality/backfill", json={"start_ms": -1}, headers=WRITE))
    assert status == 400 and "start_ms must be milliseconds since 1970-01-01 UTC" in error
    assert [j.name for j in stored(monitored).judges] == JUDGES and stored(monitored).status == "active"


@pytest.fixture
def read_only_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = demo_server(tmp_path, read_only=True)
    service.create_monitor(server.db, "quality", BUILT_IN)
    yield server
    server.stop()


def test_a_read_only_server_shows_monitors_but_refuses_to_change_or_backfill_them(read_only_server: LiveServer) -> None:
    url = f"{read_only_server.url}/api/monitors"
    assert httpx2.get(url).status_code == 200 and httpx2.get(f"{url}/quality").status_code == 200
    for path, body in (("/quality", {"paused": True}), ("/quality/backfill", {})):
        refused = httpx2.post(f"{url}{path}", json=body, headers=WRITE)
        assert refused.status_code == 403 and "started read-only" in refused.json()["error"], path
    assert stored(read_only_server).status == "active" and stored(read_only_server).counts.queued == 0
