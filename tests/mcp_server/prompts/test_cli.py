"""The prompts commands as a person uses them: register from a file or stdin, show, list,
versions, alias and diff."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mcp_server.cli import main
from mcp_server.prompts import load_prompt
from store import Database
from store.evaluations import create_run
from store.prompts import link_run_prompt

CHAT = [{"role": "system", "content": "You route telecom requests."}, {"role": "user", "content": "{{ request }}"}]


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main([*args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_register_from_a_file_and_stdin_then_show_and_list(
    db_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = tmp_path / "router.txt"
    text.write_text("Route {{ request }} to billing, technical or sales. " + "Be precise. " * 40, encoding="utf-8")
    out = _run(capsys, "prompts", "register", "router", str(text), "-m", "initial", "--tag", "author=ana",
               "--description", "Routes support requests", "--db", db_path)
    assert "registered prompts:/router/1 (version 1, text); variables: request" in out

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(CHAT)))
    out = _run(capsys, "prompts", "register", "router", "--chat", "-m", "as chat", "--db", db_path)
    assert "registered prompts:/router/2 (version 2, chat)" in out

    db = Database(db_path)
    try:
        assert load_prompt("prompts:/router/1", db=db).tags == {"author": "ana"}
        assert load_prompt("router", db=db).template == CHAT
        run = create_run(db, judges=[], trace_ids=[], name="telecom")
        link_run_prompt(db, run.run_id, "router", 1)
    finally:
        db.close()

    shown = _run(capsys, "prompts", "show", "router", "--version", "1", "--db", db_path)
    assert "version 1 of 2" in shown and "commit message: initial" in shown and "tags: author=ana" in shown
    assert "Route {{ request }} to billing, technical or sales. " + "Be precise. " * 40 in shown  # never wrapped
    assert run.run_id in shown and "used by 1 evaluation run" in shown
    assert "system:\nYou route telecom requests." in _run(capsys, "prompts", "show", "prompts:/router", "--db", db_path)

    listed = _run(capsys, "prompts", "list", "--db", db_path)
    assert "router" in listed and "Routes support requests" in listed
    versions = _run(capsys, "prompts", "versions", "router", "--db", db_path)
    assert versions.index("as chat") < versions.index("initial")


def test_alias_moves_and_is_removed_and_diff_shows_the_change(
    db_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, body in enumerate(("Route {{ request }}.\nBe brief.\n", "Route {{ request }} for {{ plan }}.\nBe brief.\n")):
        path = tmp_path / f"v{i}.txt"
        path.write_text(body, encoding="utf-8")
        _run(capsys, "prompts", "register", "router", str(path), "--db", db_path)
    assert "prompts:/router@production -> version 1 (new alias)" in _run(
        capsys, "prompts", "alias", "router", "production", "1", "--db", db_path)
    assert "-> version 2 (was version 1)" in _run(capsys, "prompts", "alias", "router", "production", "2", "--db", db_path)
    assert "version 2 of 2" in _run(capsys, "prompts", "show", "prompts:/router@production", "--db", db_path)
    assert "aliases: production" in _run(capsys, "prompts", "show", "router", "--alias", "production", "--db", db_path)
    assert "pointed at version 2" in _run(capsys, "prompts", "alias", "router", "production", "--delete", "--db", db_path)

    diff = _run(capsys, "prompts", "diff", "router", "1", "2", "--db", db_path)
    assert "--- prompts:/router/1\n+++ prompts:/router/2\n" in diff
    assert "-Route {{ request }}.\n+Route {{ request }} for {{ plan }}.\n" in diff and "+['plan']" in diff


def test_bad_input_exits_2_with_a_message_and_stores_nothing(
    db_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        (["prompts", "register", "router", str(tmp_path / "missing.txt")], "cannot read the template"),
        (["prompts", "register", "router", "--chat"], "--chat needs a JSON list of messages"),
        (["prompts", "register", "router", "--tag", "nokey"], "is not KEY=VALUE"),
        (["prompts", "show", "router"], "call ListPrompts"),
        (["prompts", "alias", "router", "production"], "pass a VERSION"),
    ]
    for args, expected in cases:
        monkeypatch.setattr("sys.stdin", io.StringIO("not json"))
        assert main([*args, "--db", db_path]) == 2
        assert expected in capsys.readouterr().err
    assert "prompts (0 of 0)" in _run(capsys, "prompts", "list", "--db", db_path)
