"""`tracejudge judge agreement` and `tracejudge judge align` as a person runs them, with the judge
and reflection models served by the scripted server (configured through the environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_server.cli import main
from mcp_server.judges import service
from mcp_server.models import ModelSettings
from mcp_server.optimization.align import AlignmentReport
from store import Database
from tests.mcp_server.optimization.conftest import (
    INSTRUCTIONS,
    NAME,
    RULE,
    ScriptedModels,
    label,
    scripted_openai,
    trace_id,
)
from tests.support.scripted_openai import ScriptedOpenAI

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

__all__ = ["scripted_openai"]


@pytest.fixture
def labeled_db(tmp_path: Path, scripted_openai: ScriptedOpenAI, monkeypatch: pytest.MonkeyPatch) -> str:
    """30 labeled traces, the routing judge, and its verdicts on them; the models in the environment."""
    monkeypatch.setenv("TRACEJUDGE_JUDGE_MODEL", "openai:/gpt-4o-mini")
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_BASE", scripted_openai.url)
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_KEY", "sk-scripted")
    scripted_openai.respond_with(ScriptedModels())
    path = tmp_path / "cli.db"
    db = Database(path)
    try:
        service.create_judge(db, NAME, INSTRUCTIONS, output={"kind": "categorical", "categories": ["yes", "no"]},
                             models=OPERATOR)
        label(db, 30)
    finally:
        db.close()
    return str(path)


def test_agreement_shows_the_matrix_and_align_registers_a_version(
    labeled_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", NAME, "--db", labeled_db]) == 0
    assert main(["judge", "agreement", NAME, "--db", labeled_db]) == 0
    out = capsys.readouterr().out
    assert "accuracy 67% (kappa 0.00) on 30 traces" in out and "disagreements (10)" in out
    assert trace_id(0) in out and "│ false         │   10 │" in out

    assert main(["judge", "align", NAME, "--db", labeled_db]) == 0
    out = capsys.readouterr().out
    assert f"registered {NAME!r} version 2" in out and "held out after:  accuracy 100%" in out and RULE in out


def test_align_with_too_few_labels_exits_2_saying_how_many_more(
    labeled_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["judge", "align", NAME, "--min-labels", "40", "--db", labeled_db]) == 2
    err = capsys.readouterr().err
    assert "has 30 human labels; alignment needs at least 40: label 10 more traces" in err


def test_align_json_is_the_alignment_report_of_the_version_it_registered(
    labeled_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", NAME, "--db", labeled_db]) == 0
    capsys.readouterr()
    assert main(["judge", "align", NAME, "--json", "--db", labeled_db]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert out.count("\n") == 1 and set(report) == set(AlignmentReport.model_fields)
    assert report["registered"] and report["new_version"] == 2 and RULE in report["instructions"]
    assert main(["judge", "show", NAME, "--json", "--db", labeled_db]) == 0
    assert json.loads(capsys.readouterr().out)["instructions"] == report["instructions"]
