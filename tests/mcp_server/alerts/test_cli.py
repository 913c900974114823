"""`tracejudge alerts create|delete` print what CreateAlertRule and DeleteAlertRule answer with --json,
and read windows as an operator writes them (1h, 30m, or seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_server.cli import main
from store import Database
from tests.support.mcp_session import session


def _json(argv: list[str], path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main([*argv, "--db", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


async def test_create_and_delete_print_what_the_tools_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alerts.db"
    assert main(["monitors", "create", "errors", "--judge", "error_spans", "--db", str(path)]) == 0
    created = _json(["alerts", "create", "slow", "--monitor", "errors", "--when", "error_spans/pass_rate < 0.9",
                     "--window", "30m", "--min-judgments", "3"], path, capsys)  # fmt: skip
    db = Database(path)
    try:
        async with session(db) as s:
            assert created == (await s.call("ListAlerts"))["rules"][0]
            assert (created["window_s"], created["min_judgments"], created["webhook"]) == (1800.0, 3, None)
            await s.call("CreateAlertRule", name="twin", monitor="errors", condition="error_spans/errors > 2")
            deleted = _json(["alerts", "delete", "slow"], path, capsys)
            answer = await s.call("DeleteAlertRule", name="twin")
            assert deleted == {**answer, "rule": "slow", "message": answer["message"].replace("twin", "slow")}
    finally:
        db.close()
    capsys.readouterr()
    assert main(["alerts", "create", "x", "--monitor", "errors", "--when", "error_spans/pass_rate < 1",
                 "--window", "soon", "--db", str(path)]) == 2  # fmt: skip
    assert "neither a duration" in capsys.readouterr().err
