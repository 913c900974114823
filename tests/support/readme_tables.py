"""The README's tool table and CLI table, generated from the server's tool list and the parser.

    .venv/bin/python -m tests.support.readme_tables --write

rewrites them in README.md; tests/test_readme.py fails when they are out of date, or when a tool
or command lacks a description.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path

from mcp_server.cli import build_parser
from mcp_server.server import create_server
from mcp_server.settings import Settings
from mcp_server.tooling.toolsets import TOOLSETS
from store import Database

README = Path(__file__).resolve().parents[2] / "README.md"


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return (match.group(1) if match else text).replace("|", "\\|")


def tool_rows() -> list[tuple[str, str, str]]:
    """(name, parameters, first sentence of the description) for every tool the server lists."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "docs.db")
        server = create_server(Settings(db_path=Path(tmp) / "docs.db"), db)
        tools = asyncio.run(server.list_tools())
        db.close()
    return [
        (tool.name, ", ".join(tool.input_schema.get("properties", {})), _first_sentence(tool.description or ""))
        for tool in tools
    ]


def command_rows() -> list[tuple[str, str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(choice.metavar or choice.dest, choice.help or "") for choice in sub._choices_actions]


def tables() -> dict[str, str]:
    tools = ["| tool | parameters | what it does |", "|---|---|---|"]
    tools += [f"| `{name}` | {params} | {text} |" for name, params, text in tool_rows()]
    toolsets = ["| toolset | for | tools |", "|---|---|---|"]
    toolsets += [f"| `{name}` | {what} | {', '.join(names)} |" for name, (what, names) in TOOLSETS.items()]
    commands = ["| command | what it does |", "|---|---|"]
    commands += [f"| `tracejudge {name}` | {text} |" for name, text in command_rows()]
    commands.append("")
    commands.append("`tracejudge COMMAND --help` shows each command's options.")
    return {"tools": "\n".join(tools), "toolsets": "\n".join(toolsets), "cli": "\n".join(commands)}


def render(readme: str) -> str:
    for name, table in tables().items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in readme or end not in readme:
            raise ValueError(f"README.md lacks the markers {start} ... {end}")
        before, rest = readme.split(start, 1)
        _, after = rest.split(end, 1)
        readme = f"{before}{start}\n{table}\n{end}{after}"
    return readme


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.support.readme_tables --write")
    README.write_text(render(README.read_text()))
    print("README.md tables rewritten")
