"""examples/clients: every config parses, and every `tracejudge` command line it names is one the
real CLI accepts, pointed at the address the server listens on by default."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from mcp_server.cli import build_parser, cmd_stdio
from mcp_server.settings import Settings
from mcp_server.tooling.toolsets import TOOLSETS, requested_toolsets
from tests.support.processes import TRACEJUDGE

CLIENTS = Path(__file__).resolve().parents[2] / "examples" / "clients"
CONFIGS = sorted(CLIENTS.rglob("*.json"))
CODEX_CONFIGS = sorted(CLIENTS.rglob("*.toml"))
DEFAULTS = Settings()
MCP_URL = f"http://{DEFAULTS.host}:{DEFAULTS.port}/mcp"


REPO = CLIENTS.parents[1]
IN_CHECKOUT = "$PWD/.venv/bin/tracejudge"
"""The stdio command of a `claude mcp add` line, run in the checkout: the shell makes it absolute,
so the client needs no PATH (a desktop app's PATH is not the shell's)."""
FILL_IN = "/ABSOLUTE/PATH/TO/tracejudge/.venv/bin/tracejudge"
"""The stdio command of a config file, the way MCP's own docs write a path the user fills in."""


CURSOR_TOOL_LIMIT = 40
"""Cursor documents that it uses at most 40 tools of all its servers together."""


def assert_stdio_command(args: list[str]) -> list[str]:
    """The toolsets the command serves (all when it names none)."""
    assert Path(TRACEJUDGE).exists(), "the tracejudge console script is not installed"
    parsed = build_parser().parse_args(args)
    assert parsed.func is cmd_stdio
    assert parsed.db is not None
    return parsed.toolsets.split(",") if parsed.toolsets else list(TOOLSETS)


def url_toolsets(url: str) -> list[str]:
    """The toolsets an example's URL asks for: MCP_URL for all, MCP_URL/<toolsets> for some."""
    assert url == MCP_URL or url.startswith(MCP_URL + "/"), url
    return requested_toolsets(url.removeprefix(MCP_URL + "/"), list(TOOLSETS)) if url != MCP_URL else list(TOOLSETS)


def tool_count(toolsets: list[str]) -> int:
    return sum(len(TOOLSETS[name][1]) for name in toolsets)


def claude_mcp_add_lines(readme: Path) -> list[list[str]]:
    return [shlex.split(line) for line in readme.read_text().splitlines() if line.startswith("claude mcp add ")]


def test_there_is_a_config_for_each_client_and_transport():
    names = {str(path.relative_to(CLIENTS)) for path in CONFIGS}
    assert names == {
        "claude_code/mcp.json", "claude_code/mcp.token.json", "claude_code/mcp.stdio.json",
        "claude_desktop/claude_desktop_config.json",
        "cursor/mcp.json", "cursor/mcp.token.json", "cursor/mcp.stdio.json",
        "gemini/settings.json", "gemini/settings.token.json", "gemini/settings.stdio.json",
        "vscode/mcp.json", "vscode/mcp.token.json", "vscode/mcp.stdio.json",
    }  # fmt: skip
    assert {str(path.relative_to(CLIENTS)) for path in CODEX_CONFIGS} == {
        "codex/config.toml", "codex/config.token.toml", "codex/config.stdio.toml",
    }  # fmt: skip


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(CLIENTS)))
def test_each_config_names_one_tracejudge_server_the_cli_or_the_server_accepts(path: Path):
    config = json.loads(path.read_text())
    vscode = path.parent.name == "vscode"
    # VS Code reads a top-level "servers" (a file with "mcpServers", like Cursor's, does not work there)
    servers = config["servers"] if vscode else config["mcpServers"]
    assert set(config) <= ({"servers", "inputs"} if vscode else {"mcpServers"})
    assert list(servers) == ["tracejudge"]
    (server,) = servers.values()
    inputs = {entry["id"]: entry for entry in config.get("inputs", [])}
    used = set(re.findall(r"\$\{input:([^}]+)\}", json.dumps(server)))
    assert used == set(inputs) and all(entry["type"] == "promptString" and entry["password"] for entry in inputs.values())
    if "command" in server:
        assert server.get("type", "stdio") == "stdio"
        assert server["command"] == FILL_IN
        toolsets = assert_stdio_command(server["args"])
    else:
        toolsets = url_toolsets(server["url"])
        if path.parent.name in ("claude_code", "vscode", "gemini"):
            assert server["type"] == "http"  # their name for streamable HTTP
        if "token" in path.name:
            (authorization,) = server["headers"].values()
            assert re.fullmatch(r"Bearer \$\{((env:)?TRACEJUDGE_TOKEN|input:tracejudge-token)\}", authorization)
        else:
            assert "headers" not in server
    if vscode:
        assert server["type"] in ("stdio", "http")  # VS Code requires it
    if path.parent.name == "cursor":
        assert tool_count(toolsets) <= CURSOR_TOOL_LIMIT


@pytest.mark.parametrize("path", CODEX_CONFIGS, ids=lambda p: str(p.relative_to(CLIENTS)))
def test_each_codex_config_names_one_tracejudge_server(path: Path):
    servers = tomllib.loads(path.read_text())["mcp_servers"]
    assert list(servers) == ["tracejudge"]
    (server,) = servers.values()
    if "command" in server:
        assert server["command"] == FILL_IN
        assert_stdio_command(server["args"])
        # Codex passes a stdio server none of the user's environment unless named here
        assert server["env_vars"] == ["OPENAI_API_KEY"] and "TRACEJUDGE_JUDGE_MODEL" in server["env"]
    else:
        assert server["url"] == MCP_URL
        assert server.get("bearer_token_env_var") == ("TRACEJUDGE_TOKEN" if "token" in path.name else None)


@pytest.mark.parametrize("readme", [REPO / "README.md", CLIENTS / "README.md"], ids=["README", "clients"])
def test_the_claude_code_commands_in_a_readme_are_well_formed_and_can_all_be_pasted(readme: Path):
    commands = claude_mcp_add_lines(readme)
    assert len(commands) == (2 if readme.parent == REPO else 3)
    names = []
    for words in commands:
        if "--" in words:
            name = words[words.index("--") - 1]
            command, *args = words[words.index("--") + 1 :]
            assert command == IN_CHECKOUT
            assert_stdio_command(args)
            assert name == "tracejudge-stdio"
        else:
            assert words[3:5] == ["--transport", "http"]
            name, url = words[5:7]
            assert url == MCP_URL
            if "--header" in words:
                assert (
                    words[words.index("--header") + 1] == "Authorization: Bearer $TRACEJUDGE_TOKEN"
                )
            assert name == "tracejudge"
        names.append(name)
    # Pasting a block adds each server once: a second line of the same name would fail with
    # "already exists", except the two HTTP forms (with and without a token) offered as alternatives.
    assert len(set(names)) == 2


def test_the_readme_says_how_to_fill_in_the_absolute_path_of_a_stdio_config():
    readme = (CLIENTS / "README.md").read_text()
    assert FILL_IN in readme and "realpath .venv/bin/tracejudge" in readme
    assert "python3 -m venv .venv" in (REPO / "README.md").read_text()  # where .venv/bin/tracejudge comes from


def test_the_readme_links_every_config():
    readme = (CLIENTS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([^)]+\.(?:json|toml))\)", readme))
    assert linked == {str(path.relative_to(CLIENTS)) for path in CONFIGS + CODEX_CONFIGS}
