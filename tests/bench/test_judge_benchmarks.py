"""The judge benchmarks run end to end (--quick) and print their figures. No timing thresholds:
the figures depend on the machine; these tests check that every figure is measured and shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_judge_throughput_prints_the_ratio_to_the_limit_and_the_overhead_per_judgment():
    out = run_bench("bench.judge_throughput")

    row = re.search(
        r"^\s+32\s+200\s+(?P<wall>[\d.]+)\s+(?P<limit>[\d.]+)\s+(?P<ratio>[\d.]+)\s+(?P<overhead>-?[\d.]+)"
        r"\s+(?P<in_flight>\d+)\s+(?P<errors>\d+)$",
        out, re.MULTILINE,
    )
    assert row, out
    assert float(row["limit"]) == pytest.approx(200 * 0.2 / 32, abs=0.01)
    # The bench divides unrounded figures; wall is printed to 0.01 s, which alone moves limit/wall by
    # up to ~0.4% at a wall near 1.3 s.
    assert float(row["ratio"]) == pytest.approx(float(row["limit"]) / float(row["wall"]), rel=0.01)
    assert row["errors"] == "0"
    # the model server saw the judgments overlap: concurrency is real, never above the limit
    assert 2 <= int(row["in_flight"]) <= 32
    assert "!!" not in out
    assert re.search(r"^\s+32\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE), out
    assert re.search(r"target limit/wall >= 0.9 at concurrency 32: (met|NOT met) \(0?\.\d+\)", out)


@pytest.mark.slow
def test_agent_context_prints_the_tokens_sent_against_the_whole_trace():
    out = run_bench("bench.agent_context")

    assert "investigation: GetTraceInfo -> ListSpans -> SearchTraceRegex -> GetSpan x3 -> submit_verdict" in out
    sent = int(re.search(r"tokens sent to reach the verdict .*: ([\d,]+)", out)[1].replace(",", ""))
    whole = int(re.search(r"tokens of the whole trace .*: ([\d,]+)", out)[1].replace(",", ""))
    ratio = float(re.search(r"ratio: ([\d.]+)%", out)[1])
    assert 0 < sent < whole
    assert ratio == pytest.approx(sent / whole * 100, abs=0.01)
    # the judge summed its input tokens over every model call, as the server counted them
    assert "agrees with the server's count" in out
    assert re.search(r"verdict: 'issues found', 3 findings on spans", out)
