"""Release gates over MCP and the CLI on the demo's traces, with code judges (no model): metric
conditions block or warn, a baseline bounds how far a metric may fall, policy judges name the traces
that broke them, what was not measured blocks, and `tracejudge gate check` exits 0, 1 or 2."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from mcp_server.cli import main
from mcp_server.demo.load import load_demo
from store import Database
from tests.support.mcp_session import session

COVERAGE_TIMEOUT_TRACE = "484dd8e5517800531ef7f2dda2d05c6e"
"""The demo trace whose coverage check timed out: the one error_spans fails."""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "gates.db"
    db = Database(path)
    load_demo(db)
    db.close()
    return path


async def test_a_gate_blocks_on_a_broken_policy_warns_on_a_warn_condition_and_passes_otherwise(demo: Path) -> None:
    db = Database(demo)
    try:
        async with session(db) as s:
            run = (await s.call("Evaluate", judges=["error_spans", "latency"]))["run_id"]
            strict = await s.call("CreateGate", name="release", conditions=["error_spans/pass_rate >= 0.5"],
                                  policies=["error_spans"])  # fmt: skip
            assert (strict["version"], strict["judges"]) == (1, ["error_spans"])
            blocked = await s.call("CheckGate", gate="release", run_id=run)
            await s.call("CreateGate", name="release", policies=[{"judge": "error_spans", "min_share": 0.9}],
                         conditions=[{"condition": "error_spans/pass_rate >= 0.95", "level": "warn"}])  # fmt: skip
            warned = await s.call("CheckGate", gate="release", run_id=run)
            await s.call("CreateGate", name="release", conditions=["error_spans/pass_rate >= 0.9"])
            passed = await s.call("CheckGate", gate="release", run_id=run)
            await s.call("CreateGate", name="blind", conditions=["correctness/mean >= 0.8"])
            blind = await s.call("CheckGate", gate="blind", run_id=run)
            listed = await s.call("ListGates")
            first = await s.call("GetGate", name="release", version=1)
    finally:
        db.close()
    assert blocked["decision"] == "block"
    policy = next(c for c in blocked["checks"] if c["kind"] == "policy")
    assert not policy["passed"] and policy["value"] == pytest.approx(0.9)
    assert policy["broken_traces"] == [COVERAGE_TIMEOUT_TRACE]
    assert warned["decision"] == "warn" and [c["passed"] for c in warned["checks"]] == [False, True]
    assert passed["decision"] == "pass" and passed["message"] == "pass: every condition and policy holds."
    assert blind["decision"] == "block" and "was not measured" in blind["checks"][0]["message"]
    assert [(g["name"], g["version"]) for g in listed["gates"]] == [("blind", 1), ("release", 3)]
    assert first["policies"] == [{"judge": "error_spans", "min_share": 1.0, "level": "block"}]


async def test_a_baseline_bounds_the_drop_and_check_gate_can_evaluate_first(demo: Path) -> None:
    db = Database(demo)
    try:
        async with session(db) as s:
            clean = [t["trace_id"] for t in (await s.call("SearchTraces", max_results=50))["traces"]
                     if t["trace_id"] != COVERAGE_TIMEOUT_TRACE]  # fmt: skip
            ok = (await s.call("Evaluate", judges=["error_spans"], trace_ids=clean))["run_id"]  # the baseline: 100%
            await s.call("CreateGate", name="no-regression", baseline_run_id=ok,
                         conditions=[{"condition": "error_spans/pass_rate >= 0.5", "max_drop": 0.05}])  # fmt: skip
            report = await s.call("CheckGate", gate="no-regression", filter_string="")  # all ten traces, evaluated now
            errors = {
                "both": await s.error("CheckGate", gate="no-regression", run_id=ok, filter_string=""),
                "none": await s.error("CheckGate", gate="no-regression"),
                "drop": await s.error("CreateGate", name="x", conditions=[{"condition": "a/mean > 1", "max_drop": 0.1}]),
                "form": await s.error("CreateGate", name="x", conditions=["pass rate high"]),
                "empty": await s.error("CreateGate", name="x"),
                "unknown": await s.error("GetGate", name="absent"),
            }
    finally:
        db.close()
    (check,) = report["checks"]
    assert report["run_id"] != ok and check["value"] == pytest.approx(0.9) and check["baseline"] == 1.0
    assert report["decision"] == "block" and "more than max_drop=0.05" in check["message"]
    assert "not both" in errors["both"] and "give run_id" in errors["none"]
    assert "baseline_run_id" in errors["drop"] and "'<judge>/<metric> <op> <number>'" in errors["form"]
    assert "at least one condition" in errors["empty"] and "ListGates" in errors["unknown"]


def test_gate_check_exits_0_1_2_for_pass_warn_block(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(demo)
    assert main(["gate", "create", "pass", "--condition", "error_spans/pass_rate >= 0.5", "--db", db]) == 0
    assert main(["gate", "create", "warn", "--warn", "error_spans/pass_rate >= 0.95", "--db", db]) == 0
    assert main(["gate", "create", "block", "--policy", "error_spans", "--db", db]) == 0
    codes = {name: main(["gate", "check", name, "--filter", "", "--db", db]) for name in ("pass", "warn", "block")}
    assert codes == {"pass": 0, "warn": 1, "block": 2}
    capsys.readouterr()
    assert main(["gate", "check", "block", "--filter", "", "--db", db, "--json"]) == 2
    printed = json.loads(capsys.readouterr().out)
    assert printed["decision"] == "block" and printed["checks"][0]["broken_traces"] == [COVERAGE_TIMEOUT_TRACE]
    created = None
    capsys.readouterr()
    assert main(["gate", "create", "shared", "--policy", "error_spans=0.8", "--db", db, "--json"]) == 0
    created = json.loads(capsys.readouterr().out)

    async def listed() -> dict:
        database = Database(demo)
        try:
            async with session(database) as s:
                return await s.call("GetGate", name="shared")
        finally:
            database.close()

    assert created == anyio.run(listed) and created["policies"][0]["min_share"] == 0.8
