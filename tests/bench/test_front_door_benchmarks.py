"""The front-door benchmarks run end to end (--quick) and print what they measure. No timing
thresholds: the figures depend on the machine; the tests check that every figure is measured and
shown, and that the attack neither failed an export nor took the server down."""

from __future__ import annotations

import re

import pytest

from tests.bench.test_judge_benchmarks import run_bench


@pytest.mark.slow
def test_soak_prints_what_got_through_and_the_server_survives():
    out = run_bench("bench.soak_front_door")

    answered = re.search(r"exports answered within their timeout: ([\d,]+) \(p50 [\d,]+ ms, p99 [\d,]+ ms\)", out)
    assert answered and int(answered[1].replace(",", "")) > 0, out
    assert re.search(r"export attempts refused with 503 \(retried by the exporter\): [\d,]+", out), out
    assert "exports failed: 0" in out, out
    assert "stale sessions: 300 initialize calls sent" in out, out
    assert "slow body answered 408" in out, out
    assert re.search(r"handshake MCP client after the stale sessions: connected, \d+ tools", out), out
    assert "/health during the attack: 200; after: 200" in out, out
    assert "server alive: yes" in out, out
    assert re.search(r"server peak RSS: [\d,]+ MiB; RSS at the end: [\d,]+ MiB", out), out


@pytest.mark.slow
def test_export_memory_prints_peak_and_after_for_every_case():
    out = run_bench("bench.export_memory")

    cases = ("one 6 MiB export", "six 4 MiB exports at once", "tiny attributes", "kvlists 32 deep",
             "arrays of empty values", "JSON, many small objects")  # fmt: skip
    for case in cases:
        assert re.search(rf"^{case}\s+[\d.]+\s+\d+ MiB\s+\d+ MiB\s+\d+ MiB \([\d.]+x\)\s+\d+ MiB\s+\d+$", out, re.M), out
