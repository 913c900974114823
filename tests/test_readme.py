"""The README says what the code does: its tables are generated, its commands are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.readme_tables import README, command_rows, render, tool_rows

ROOT = Path(__file__).resolve().parents[1]


def test_every_tool_and_command_has_a_description() -> None:
    assert all(text for _, _, text in tool_rows())
    assert all(text for _, text in command_rows())


def test_readme_tables_match_the_tool_list_and_the_cli() -> None:
    readme = README.read_text()
    assert render(readme) == readme, (
        "README.md's tool or CLI table is out of date: run "
        "`.venv/bin/python -m tests.support.readme_tables --write`"
    )


def test_the_quickstart_has_the_two_commands_and_ci_runs_the_second() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", README.read_text(), flags=re.S)
    serve, test = blocks[0], blocks[1]
    assert serve.startswith("python3 -m venv .venv") and serve.endswith("tracejudge serve --demo")
    assert test.startswith("python3 -m venv .venv") and test.endswith(".venv/bin/pytest")
    assert test in (ROOT / ".ci" / "run").read_text()
