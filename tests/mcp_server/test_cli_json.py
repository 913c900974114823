"""Every read command of the CLI takes --json, for scripts and coding agents: on success it prints
one JSON document on stdout (the matching MCP tool's answer, with the same ids); on a bad argument
stdout stays empty, the message goes to stderr and the exit status is non-zero. Every command is
classified here, so a new read command without --json fails the first test."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from mcp_server.cli import build_parser, main

READ = {
    # command: (arguments that succeed on the demo store, arguments that name something absent)
    "traces": (["trace.error_count > 0"], ["no_such_field = 1"]),
    "show": (["{trace}"], ["0" * 32]),
    "span": (["{trace}", "--root"], ["{trace}", "0" * 16]),
    "grep": (["{trace}", "(?i)timeout"], ["{trace}", "(unclosed"]),
    "timing": (["{trace}"], ["0" * 32]),
    "judge list": ([], None),
    "judge show": (["error_spans"], ["no_such_judge"]),
    "judge agreement": (["error_spans"], ["error_spans", "--trace-id", "zz"]),
    "runs list": ([], None),
    "runs show": (["{run}"], ["run-" + "0" * 32]),
    "runs compare": (["{run}", "{run}"], ["{run}", "run-" + "0" * 32]),
    "datasets list": ([], None),
    "datasets show": (["cases"], ["no_such_dataset"]),
    "datasets records": (["cases"], ["no_such_dataset"]),
    "prompts list": ([], None),
    "prompts show": (["northwind-router"], ["no_such_prompt"]),
    "prompts versions": (["northwind-router"], ["no_such_prompt"]),
    "prompts diff": (["northwind-router", "1", "1"], ["northwind-router", "1", "9"]),
    "labeling schemas": ([], None),
    "labeling sessions": ([], None),
    "labeling items": None,  # needs a session, which only MCP creates: tests/mcp_server/test_cli_labeling.py
    "skills list": ([], None),
    "judge run": (["error_spans", "{trace}"], ["no_such_judge", "{trace}"]),  # writes its verdict, reads it back
}
NOT_READ = {
    "serve", "stdio", "demo", "import", "backup", "evaluate", "optimize", "judge create", "judge align",
    "datasets create", "datasets add-traces", "datasets import", "datasets delete", "prompts register",
    "prompts alias", "skills install",
    "datasets export",  # prints JSON lines always (or writes them to --output)
}  # fmt: skip


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
    for name in READ:
        assert "--json" in commands[name].format_help(), f"tracejudge {name} has no --json"


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The demo store with a dataset and an evaluation run: what the placeholders of READ stand for."""
    db = str(tmp_path / "json.db")
    assert main(["demo", "--db", db]) == 0
    capsys.readouterr()
    assert main(["traces", "trace.error_count > 0", "--json", "--db", db]) == 0
    trace = json.loads(capsys.readouterr().out)["traces"][0]["trace_id"]
    assert main(["datasets", "create", "cases", "--db", db]) == 0
    assert main(["datasets", "add-traces", "cases", "--trace-id", trace, "--db", db]) == 0
    capsys.readouterr()
    assert main(["evaluate", "error_spans", "--trace-id", trace, "--db", db]) == 0
    (run,) = set(re.findall(r"\brun-[0-9a-f]{32}\b", capsys.readouterr().out))
    capsys.readouterr()
    return {"db": db, "trace": trace, "run": run}


@pytest.mark.parametrize("command", sorted(name for name, cases in READ.items() if cases))
def test_a_read_command_prints_json_or_a_message_on_stderr_with_a_non_zero_exit(
    command: str, store: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = READ[command]
    store_option = [] if command.startswith("skills") else ["--db", store["db"]]  # skills open no store
    args = [*command.split(), "--json", *store_option]
    assert main([*args, *(a.format(**store) for a in good)]) == 0
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert isinstance(answer, dict) and out.count("\n") == 1 and err == ""
    if store["trace"] in " ".join(good).format(**store):
        assert store["trace"] in out  # the same id it was given, as MCP writes it
    if bad is None:
        return
    assert main([*args, *(a.format(**store) for a in bad)]) != 0
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("tracejudge: ") and len(err) > 40
