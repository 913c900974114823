"""The monitors benchmark runs end to end (--quick) and prints its figures. No timing thresholds:
the figures depend on the machine; the test checks that every figure is measured and shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROW = (
    r"^\s*(?P<judge>helpful|error_spans)\s+(?P<concurrency>\d+)\s+(?P<ideal>\d+|-)\s+(?P<sent>\d+)\s+(?P<rate>[\d.]+)\s+"
    r"(?P<ratio>[\d.]+|-)\s+(?P<in_flight>\d+)\s+(?P<cpu>[\d.]+)\s+(?P<lag_rate>[\d.]+)\s+(?P<p50>[\d.]+)\s+"
    r"(?P<p90>[\d.]+)\s+(?P<max>[\d.]+)\s+(?P<errors>\d+)$"
)


@pytest.mark.slow
def test_monitors_benchmark_prints_throughput_against_the_ideal_and_the_lag_per_concurrency():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.monitors", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout

    rows = {m["judge"]: m for m in re.finditer(ROW, out, re.MULTILINE)}
    assert rows.keys() == {"helpful", "error_spans"}, out
    llm = rows["helpful"]
    assert int(llm["ideal"]) == int(llm["concurrency"]) * 5  # concurrency / 200 ms
    assert float(llm["ratio"]) == pytest.approx(float(llm["rate"]) / int(llm["ideal"]), abs=0.01)
    # the model server saw the judgments overlap, never above the limit
    assert 1 <= int(llm["in_flight"]) <= int(llm["concurrency"])
    for row in rows.values():
        assert row["errors"] == "0"
        assert 0 < float(row["p50"]) <= float(row["p90"]) <= float(row["max"])
    assert rows["error_spans"]["in_flight"] == "0"  # a code judge calls no model
    assert "!!" not in out
