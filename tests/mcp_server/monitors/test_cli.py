"""`tracejudge monitors ...` as an operator runs it: create, update, backfill and delete print what
the matching tool answers with --json; `monitors run` judges in a process of its own and stops
cleanly on SIGTERM; `serve --no-monitors` leaves the judging to such a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mcp_server.cli import main
from mcp_server.demo.load import load_demo
from store import Database
from store import monitors as store
from tests.support.mcp_session import session
from tests.support.processes import TRACEJUDGE, serve


def _json(argv: list[str], path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main([*argv, "--db", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    db = Database(path)
    load_demo(db)
    db.close()
    return path


async def test_create_update_backfill_and_delete_print_what_the_tools_answer(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    created = _json(["monitors", "create", "errors", "--judge", "error_spans", "--judge", "latency",
                     "--filter", "trace.status = 'OK'", "--sample-rate", "0.5", "--max-cost-per-day", "2"],
                    demo, capsys)  # fmt: skip
    db = Database(demo)
    try:
        async with session(db) as s:
            assert created == (await s.call("ListMonitors"))["monitors"][0]
            assert created["sample_rate"] == 0.5 and created["max_cost_usd_per_day"] == 2
            updated = _json(["monitors", "update", "errors", "--pause", "--max-cost-per-day", "0"], demo, capsys)
            assert updated == (await s.call("ListMonitors"))["monitors"][0]
            assert updated["status"] == "paused" and updated["max_cost_usd_per_day"] is None
            filled = _json(["monitors", "backfill", "errors", "--since", "3650d"], demo, capsys)
            await s.call("CreateMonitor", name="twin", judges=["error_spans", "latency"],
                         filter_string="trace.status = 'OK'", sample_rate=0.5)  # fmt: skip
            twin = await s.call("BackfillMonitor", name="twin", start_ms=0)
            ok = (await s.call("CountTraces", filter_string="trace.status = 'OK'"))["count"]
            assert filled["matched"] == twin["matched"] == ok and filled["queued"] + filled["sampled_out"] == ok
            deleted = _json(["monitors", "delete", "errors"], demo, capsys)
            answer = await s.call("DeleteMonitor", name="twin")
            assert deleted == {**answer, "monitor": "errors", "message": answer["message"].replace("twin", "errors")}
    finally:
        db.close()
    capsys.readouterr()
    assert main(["monitors", "backfill", "errors", "--since", "last tuesday", "--db", str(demo)]) == 2
    assert "neither a time ago" in capsys.readouterr().err


def test_monitors_run_judges_beside_a_server_without_monitors_and_stops_on_sigterm(demo: Path) -> None:
    assert main(["monitors", "create", "errors", "--judge", "error_spans", "--settle-s", "0", "--db", str(demo)]) == 0
    assert main(["monitors", "backfill", "errors", "--db", str(demo)]) == 0
    db = Database(demo)
    try:
        with serve(demo, "--no-monitors"):
            assert store.state_counts(db, "errors")["queued"] == 10
            worker = subprocess.Popen([TRACEJUDGE, "monitors", "run", "--db", str(demo)], stderr=subprocess.PIPE,
                                      text=True, env={**os.environ, "TRACEJUDGE_MONITOR_POLL_S": "0.1"})  # fmt: skip
            try:
                deadline = time.monotonic() + 60
                while store.state_counts(db, "errors")["judged"] < 10:
                    assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
                    assert time.monotonic() < deadline, "monitors run did not judge the queued traces"
                    time.sleep(0.1)
            finally:
                worker.send_signal(signal.SIGTERM)
                _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        assert "running the monitors of" in err and "(errors)" in err
        assert store.live_runners(db, time.time_ns()) == 0  # it said it stopped
        assert store.state_counts(db, "errors") | {} == {"queued": 0, "leased": 0, "judged": 10, "sampled_out": 0,
                                                        "skipped": 0}  # fmt: skip
    finally:
        db.close()
