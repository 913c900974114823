"""Every read command of the CLI takes --json, for scripts and coding agents, and fails the way a
script can rely on: stdout empty, the reason on stderr, a non-zero exit. Every command is classified
here, so a new read command without --json fails the first test. That --json prints the matching
MCP tool's answer is tests/mcp_server/test_cli_tables.py's; `judge run`, which writes its verdict
before it shows it, `evaluate`, which stores a run, and `skills list`, which has no tool, are
checked here (`judge align`'s --json: tests/mcp_server/optimization/test_cli_alignment.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_server.cli import build_parser, main
from store import Database
from tests.support.mcp_session import session

ABSENT_RUN = "run-" + "0" * 32
READ = {
    # command: arguments naming something the store lacks (None: no argument can be absent)
    "traces": ["no_such_field = 1"],
    "show": ["0" * 32],
    "span": ["{trace}", "0" * 16],
    "grep": ["{trace}", "(unclosed"],
    "timing": ["0" * 32],
    "judge list": None,
    "judge show": ["no_such_judge"],
    "judge agreement": ["error_spans", "--trace-id", "zz"],
    "judge run": ["no_such_judge", "{trace}"],
    "runs list": None,
    "runs show": [ABSENT_RUN],
    "runs compare": ["{run}", ABSENT_RUN],
    "datasets list": None,
    "datasets show": ["no_such_dataset"],
    "datasets records": ["no_such_dataset"],
    "prompts list": None,
    "prompts show": ["no_such_prompt"],
    "prompts versions": ["no_such_prompt"],
    "prompts diff": ["northwind-router", "1", "9"],
    "labeling schemas": None,
    "labeling sessions": None,
    "labeling items": ["no_such_session"],
    "labeling links": ["no_such_session"],
    "skills list": None,
    "monitors list": None,
    "monitors show": ["no_such_monitor"],
    "alerts list": ["--monitor", "no_such_monitor"],
    "issues list": None,
    "issues show": ["iss-000000000000"],
    "gate list": None,
    "gate show": ["no_such_gate"],
    "tokens list": None,
    "tokens writes": ["no_such_token"],
    "keys list": None,
    "keys show": ["no_such_key"],
    "keys spend": ["--key", "no_such_key"],
}
NOT_READ = {
    "serve", "stdio", "demo", "import", "backup", "evaluate", "optimize", "judge create", "judge align",
    "datasets create", "datasets add-traces", "datasets import", "datasets delete", "prompts register",
    "prompts alias", "skills install", "labeling share", "labeling revoke", "monitors create", "monitors update",
    "monitors delete", "monitors backfill", "monitors run", "alerts create", "alerts delete",
    "issues discover", "issues update", "issues dataset", "issues judge", "gate create", "gate check",
    "tokens create", "tokens revoke", "keys create", "keys revoke",
    "datasets export",  # prints JSON lines always (or writes them to --output)
}  # fmt: skip
WRITE_WITH_JSON = {"evaluate": "Evaluate", "judge align": "AlignJudge"}
"""Commands that change the store and print the report the matching tool answers, with --json."""


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Each leaf command of the parser by its words, e.g. 'runs show'."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= _commands(sub, f"{prefix}{name} ") or {f"{prefix}{name}": sub}
    return found


def test_every_command_is_classified_and_every_read_command_takes_json() -> None:
    commands = _commands(build_parser())
    assert set(commands) == set(READ) | NOT_READ
    for name in [*READ, *WRITE_WITH_JSON]:
        assert "--json" in commands[name].format_help(), f"tracejudge {name} has no --json"
    assert set(WRITE_WITH_JSON) <= NOT_READ


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The demo store, a trace with an error span and an evaluation run of it: what READ's
    placeholders stand for."""
    db = str(tmp_path / "json.db")
    assert main(["demo", "--db", db]) == 0
    capsys.readouterr()
    assert main(["traces", "trace.error_count > 0", "--json", "--db", db]) == 0
    trace = json.loads(capsys.readouterr().out)["traces"][0]["trace_id"]
    assert main(["evaluate", "error_spans", "--trace-id", trace, "--db", db]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--json", "--db", db]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]["run_id"]
    return {"db": db, "trace": trace, "run": run}


@pytest.mark.parametrize("command", sorted(name for name, absent in READ.items() if absent))
def test_a_read_command_given_what_is_absent_prints_nothing_on_stdout_and_why_on_stderr(
    command: str, store: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [a.format(**store) for a in READ[command]]
    assert main([*command.split(), *arguments, "--json", "--db", store["db"]]) != 0
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("tracejudge: ") and len(err) > 40, err


def test_judge_run_json_is_the_verdict_it_logged_with_its_findings(
    store: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", store["trace"], "--json", "--db", store["db"]]) == 0
    [error_span] = [s["span_id"] for s in json.loads(capsys.readouterr().out)["spans"]["spans"] if s["status"] == "ERROR"]
    assert main(["judge", "run", "error_spans", store["trace"], "--json", "--db", store["db"]]) == 0
    out = capsys.readouterr().out
    answer = json.loads(out)
    assert out.count("\n") == 1 and answer["feedback_name"] == "error_spans"
    verdict = answer["verdict"]
    assert verdict["trace_id"] == store["trace"] and verdict["value"] is False
    assert [f["span_id"] for f in verdict["findings"]] == [error_span]
    assert verdict["assessment_id"].startswith("a-")


def test_skills_list_takes_json_without_a_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skills", "list", "--json"]) == 0
    names = [skill["name"] for skill in json.loads(capsys.readouterr().out)["skills"]]
    assert names and all(name.startswith("tracejudge-") for name in names)


def test_evaluate_json_is_what_the_evaluate_tool_answers_for_the_run_it_stored(
    store: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    judges, trace = ["error_spans", "latency"], store["trace"]
    assert main(["evaluate", *judges, "--trace-id", trace, "--json", "--db", store["db"]]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)
    assert out.count("\n") == 1 and printed["status"] == "completed" and printed["pairs_done"] == 2

    async def tool_answers() -> tuple[dict[str, Any], dict[str, Any]]:
        db = Database(store["db"])
        try:
            async with session(db) as s:
                stored = await s.call("GetEvaluationRun", run_id=printed["run_id"])
                return await s.call("Evaluate", judges=judges, trace_ids=[trace]), stored["run"]
        finally:
            db.close()

    answer, stored = anyio.run(tool_answers)
    differs = {"run_id", "created_ns", "duration_s"}  # the tool's own run, made a moment later
    assert {k: v for k, v in printed.items() if k not in differs} == {k: v for k, v in answer.items() if k not in differs}
    assert printed["concurrency"] is not None  # Evaluate's report of the call, which a stored run lacks
    assert printed == {**stored, "concurrency": printed["concurrency"]}
