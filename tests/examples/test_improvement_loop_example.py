"""examples/improvement_loop.py, run for real: a `tracejudge serve --demo` subprocess whose judge
model is the scripted OpenAI-compatible server (the Northwind scripted models, as in
tests/test_improvement_loop.py), and the example as a subprocess talking to it over streamable
HTTP, twice on the same database."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
from tests.support.northwind import DEMO_ROUTES, EXTRA_CASES, INSTRUCTIONS, PLAN_RULE, ScriptedModels, truth
from tests.support.processes import free_port, serve
from tests.support.scripted_openai import Reply, ScriptedOpenAI, scripted_openai, text

__all__ = ["scripted_openai"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOOP = EXAMPLES / "improvement_loop.py"
LABELS = EXAMPLES / "improvement_loop_labels.json"


def run_loop(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    return subprocess.run(
        [sys.executable, str(LOOP), "--timeout", "240", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env=env,
    )


def the_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("improvement_loop", LOOP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def number(pattern: str, output: str) -> float:
    found = re.search(pattern, output)
    assert found, f"{pattern!r} not in the output:\n{output}"
    return float(found[1])


@contextmanager
def demo_server(tmp_path: Path, scripted_openai: ScriptedOpenAI, models: ScriptedModels) -> Iterator[str]:
    """`tracejudge serve --demo` whose judge model is `models` on the scripted server; yields its URL."""
    scripted_openai.respond_with(models)
    judge_model = {
        "TRACEJUDGE_DB": str(tmp_path / "loop.db"),
        "TRACEJUDGE_JUDGE_MODEL": "openai:/gpt-4o-mini",
        "TRACEJUDGE_JUDGE_API_BASE": scripted_openai.url,
        "TRACEJUDGE_JUDGE_API_KEY": "sk-scripted",
    }
    with serve(tmp_path / "loop.db", "--demo", env=judge_model) as url:
        yield url


@pytest.mark.slow
def test_the_loop_finds_the_misroute_ships_the_fix_aligns_the_judge_and_reruns_cleanly(
    tmp_path: Path, scripted_openai: ScriptedOpenAI
):
    models = ScriptedModels()
    with demo_server(tmp_path, scripted_openai, models) as url:
        first = run_loop("--url", f"{url}/mcp")
        second = run_loop("--url", f"{url}/mcp")

    out = first.stdout
    assert first.returncode == 0, out + first.stderr
    assert "judged 10 traces; flagged 2 as misrouted" in out
    assert "'Why was I charged for roaming in Spain? I thought my plan covered the EU.' went to product_specialist" in out
    assert "15 records" in out
    assert "router prompt northwind-router/1: pass rate 53% over 15 records" in out
    assert "best: version 2" in out and number(r"\(gain ([+-][\d.]+)\)", out) > 0
    assert "-1. roaming, coverage" in out and "+1. bill, invoice" in out
    assert "router prompt northwind-router/2: pass rate 53% -> 73%" in out
    assert len(re.findall(r"roaming.*: no -> yes \(now billing_specialist\)", out)) == 3
    # The agent's 10 traces (one misrouted) and its 15 answers before and after optimizing.
    assert "'support-lead' labeled 40 answers: 36 pass, 4 fail" in out
    assert "agreement on the 40 answers just labeled: 78%" in out
    # Where they differ: plan changes the account specialist rightly handled, which the judge fails.
    differences = re.findall(r"^   - (.*support lead .*)$", out.split("7. The judge")[1], re.MULTILINE)
    assert len(differences) == 4 and all(
        "plan" in line and "by account_specialist: the support lead says right, the judge wrong" in line
        for line in differences
    )
    before = number(r"agreement ([\d.]+) before", out)
    assert number(r"before, ([\d.]+) after", out) > before
    assert "registered version 2 of 'routing'" in out and PLAN_RULE in out

    # Again on the same database: everything reused, and nothing left to fix.
    out = second.stdout
    assert second.returncode == 0, out + second.stderr
    assert "judge 'routing' exists (version 2): reusing it" in out
    assert "judged 10 traces; flagged 1 as misrouted" in out
    assert "flagged traces: 0 added, 1 already there" in out
    assert "well-routed traces (regression guard): 0 added, 9 already there" in out
    assert "15 records, version 3" in out  # the first run's version: nothing changed
    assert "router prompt northwind-router/2: pass rate 100% over 15 records" in out
    assert "no version scored better: production stays at version 2" in out
    assert "'support-lead' labeled 25 answers: 24 pass, 1 fail" in out
    assert "agreement on the 25 answers just labeled: 100%" in out
    assert "no new version" in out
    assert models.judgments > 0 and models.reflections


class NoBetterRouter(ScriptedModels):
    """The scripted models, except that the reflection model proposes the router prompt as it is:
    a first run on which OptimizePrompt finds nothing better (as with a real model it may)."""

    def __call__(self, request: dict[str, Any]) -> Reply:
        asked = "\n".join(str(m.get("content")) for m in request["messages"])
        if "careful evaluator" not in str(request["messages"][0].get("content")) and "Keyword rules" in asked:
            self.reflections.append(asked)
            return text(f"The prompt is fine as it is:\n```\n{ROUTER_SYSTEM_PROMPT}\n```")
        return super().__call__(request)


@pytest.mark.slow
def test_a_first_run_whose_optimizer_finds_nothing_better_still_aligns_the_judge(
    tmp_path: Path, scripted_openai: ScriptedOpenAI
):
    with demo_server(tmp_path, scripted_openai, NoBetterRouter()) as url:
        first = run_loop("--url", f"{url}/mcp")

    out = first.stdout
    assert first.returncode == 0, out + first.stderr
    assert "no version scored better: production stays at version 1" in out
    # Only the run before optimizing has answers on the dataset (15), yet AlignJudge gets its 20 labels.
    assert "'support-lead' labeled 25 answers" in out
    assert re.search(r"AlignJudge on \d+ held-out labels: agreement", out), out


def test_the_expert_labels_name_the_right_specialist_for_every_question_of_the_dataset():
    labels = json.loads(LABELS.read_text())
    example = the_example()
    assert example.HAND_WRITTEN == EXTRA_CASES  # what the scripted models know
    assert example.INSTRUCTIONS == INSTRUCTIONS  # the judge whose blind spot they script
    assert labels == {question: truth(question) for question in [*DEMO_ROUTES, *EXTRA_CASES]}


def test_the_loop_reads_the_customer_question_from_records_and_traces():
    question_in = the_example().question_in
    assert question_in({"question": "Why?"}) == "Why?"
    parts = [{"role": "user", "parts": [{"type": "text", "content": "First"}]},
             {"role": "assistant", "parts": [{"type": "text", "content": "Sure"}]},
             {"role": "user", "parts": [{"type": "text", "content": "Second"}]}]  # fmt: skip
    assert question_in({"request": parts}) == "Second"
    assert question_in({"messages": [{"role": "user", "content": "Plain"}]}) == "Plain"


def test_the_loop_exits_non_zero_when_the_labels_cannot_be_read(tmp_path: Path):
    (tmp_path / "labels.json").write_text("{not json")
    result = run_loop("--labels", str(tmp_path / "labels.json"))
    assert result.returncode == 1
    assert f"loop failed: cannot read the labels {tmp_path / 'labels.json'}" in result.stderr


def test_the_loop_exits_non_zero_when_no_server_answers():
    url = f"http://127.0.0.1:{free_port()}/mcp"
    result = run_loop("--url", url)
    assert result.returncode == 1
    assert f"loop failed: could not talk to {url}" in result.stderr
