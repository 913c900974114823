"""The example configurations of examples/clients, given to the real coding assistants' CLIs
(Claude Code, Gemini CLI, Codex, installed from npm), each connect to a running tracejudge over
HTTP, over HTTP with a token, and over stdio, offline.

Each example is used as written, with three things filled in as the README tells the user to:
the port the test server listens on, the absolute path of the installed `tracejudge`, and the
store (the demo). Each CLI runs with a HOME of its own and no TRACEJUDGE_* variable of ours, so
no user configuration and nothing of this process's environment helps it."""

from __future__ import annotations

import json
import os
import select
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.tooling.toolsets import TOOLSETS
from tests.examples.test_clients import CLIENTS, FILL_IN, MCP_URL
from tests.support.npm_tools import npm_program
from tests.support.processes import TRACEJUDGE, serve

pytestmark = pytest.mark.slow

CLAUDE_CODE = ("@anthropic-ai/claude-code", "2.1.332", "claude")
GEMINI_CLI = ("@google/gemini-cli", "0.61.0", "gemini")
CODEX = ("@openai/codex", "0.171.0", "codex")
TOKEN = "s3cret-client-token"
URL_TOOLSETS = "traces,feedback"
"""What the toolsets-in-the-URL tests ask for (a comma in the path, which each client must keep)."""
STORE = "~/.tracejudge/tracejudge.db"
"""The store the stdio examples name; the test puts the demo store's path in its place."""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The MCP URL of a server without a token ('open') and of one started with TOKEN ('token')."""
    folder = tmp_path_factory.mktemp("served")
    with serve(folder / "open.db", "--demo") as open_url:
        with serve(folder / "token.db", "--demo", env={"TRACEJUDGE_TOKEN": TOKEN}) as token_url:
            yield {"open": f"{open_url}/mcp", "token": f"{token_url}/mcp"}


def filled(example: Path, servers: dict[str, str], store: Path, toolsets: str = "") -> str:
    """The example as the user fills it in; with `toolsets`, its URL asks for those (/mcp/<toolsets>)."""
    text = example.read_text()
    assert (MCP_URL in text) != (FILL_IN in text), "an example is either HTTP or stdio"
    url = servers["token" if "token" in example.name else "open"] + (f"/{toolsets}" if toolsets else "")
    return text.replace(MCP_URL, url).replace(FILL_IN, TRACEJUDGE).replace(STORE, str(store))


def environment(home: Path, **extra: str) -> dict[str, str]:
    """What a user's shell gives the CLI: a PATH (node is on it), a HOME of the test's own, the token."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "TRACEJUDGE_TOKEN": TOKEN, **extra}


def examples(folder: str, pattern: str) -> list[Path]:
    found = sorted((CLIENTS / folder).glob(pattern))
    assert len(found) == 3, found  # HTTP, HTTP with a token, stdio
    return found


@pytest.mark.parametrize("example", examples("claude_code", "*.json"), ids=lambda p: p.name)
def test_claude_code_connects_with_each_example(example: Path, servers, demo_db: Path, tmp_path: Path) -> None:
    claude_code_connects(filled(example, servers, demo_db), tmp_path)


def test_claude_code_connects_to_a_url_that_names_toolsets(servers, demo_db: Path, tmp_path: Path) -> None:
    claude_code_connects(filled(CLIENTS / "claude_code" / "mcp.json", servers, demo_db, URL_TOOLSETS), tmp_path)


def claude_code_connects(example: str, tmp_path: Path) -> None:
    claude = npm_program(*CLAUDE_CODE)
    # `claude mcp add-json` takes the server object of .mcp.json as it is (a project's .mcp.json
    # would wait for the user's approval in an interactive session first).
    (server,) = json.loads(example)["mcpServers"].values()
    env = environment(tmp_path)
    added = subprocess.run(
        [claude, "mcp", "add-json", "tracejudge", json.dumps(server)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    listed = subprocess.run(
        [claude, "mcp", "list"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    line = next(line for line in listed.stdout.splitlines() if line.startswith("tracejudge:"))
    assert "✔ Connected" in line, listed.stdout + listed.stderr


@pytest.mark.parametrize("example", examples("gemini", "*.json"), ids=lambda p: p.name)
def test_gemini_cli_connects_with_each_example_in_a_trusted_folder(
    example: Path, servers, demo_db: Path, tmp_path: Path
) -> None:
    gemini_cli_connects(filled(example, servers, demo_db), tmp_path)


def test_gemini_cli_connects_to_a_url_that_names_toolsets(servers, demo_db: Path, tmp_path: Path) -> None:
    gemini_cli_connects(filled(CLIENTS / "gemini" / "settings.json", servers, demo_db, URL_TOOLSETS), tmp_path)


def gemini_cli_connects(settings: str, tmp_path: Path) -> None:
    gemini = npm_program(*GEMINI_CLI)
    home, project = tmp_path / "home", tmp_path / "project"
    (project / ".gemini").mkdir(parents=True)
    (project / ".gemini" / "settings.json").write_text(settings)
    # In a folder the user has not trusted, Gemini CLI disables project servers (the README says so).
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(project): "TRUST_FOLDER"}))
    listed = subprocess.run(
        [gemini, "mcp", "list"], cwd=project, env=environment(home), capture_output=True, text=True, timeout=180
    )
    output = listed.stdout + listed.stderr
    line = next(line for line in output.splitlines() if "tracejudge:" in line)
    assert line.rstrip().endswith("- Connected"), output


@pytest.mark.parametrize("example", examples("codex", "*.toml"), ids=lambda p: p.name)
def test_codex_connects_with_each_example_and_lists_the_tools(
    example: Path, servers, demo_db: Path, tmp_path: Path
) -> None:
    tools = codex_tools_with(filled(example, servers, demo_db), tmp_path)
    assert {"GetTraceInfo", "ListSpans", "SearchTraces"} <= set(tools)


@pytest.mark.parametrize("example", ["config.toml", "config.token.toml"])
def test_codex_with_a_url_that_names_toolsets_lists_only_their_tools(
    example: str, servers, demo_db: Path, tmp_path: Path
) -> None:
    tools = codex_tools_with(filled(CLIENTS / "codex" / example, servers, demo_db, URL_TOOLSETS), tmp_path)
    assert set(tools) == {name for toolset in URL_TOOLSETS.split(",") for name in TOOLSETS[toolset][1]}


def codex_tools_with(config: str, tmp_path: Path) -> list[str]:
    """The tools Codex lists for 'tracejudge' with `config` as its config.toml, in a CODEX_HOME of its own."""
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(config)
    return codex_server_tools(npm_program(*CODEX), environment(tmp_path, CODEX_HOME=str(codex_home)), "tracejudge")


def codex_server_tools(codex: Path, env: dict[str, str], name: str, timeout: float = 120) -> list[str]:
    """The tool names Codex's app server reports for the MCP server `name` once it has connected
    (`codex mcp list` shows the configuration only; the app server's mcpServerStatus/list connects)."""
    process = subprocess.Popen(
        [codex, "app-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    deadline = time.monotonic() + timeout

    def ask(request_id: int, method: str, params: dict) -> dict:
        process.stdin.write(json.dumps({"id": request_id, "method": method, "params": params}) + "\n")
        process.stdin.flush()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            if ready:
                message = json.loads(process.stdout.readline() or "null")
                assert message is not None, "codex app-server ended"
                if message.get("id") == request_id:
                    assert "error" not in message, message
                    return message["result"]
        raise AssertionError(f"codex app-server did not answer {method} within {timeout} s")

    try:
        ask(1, "initialize", {"clientInfo": {"name": "tracejudge-tests", "version": "1"}})
        process.stdin.write(json.dumps({"method": "initialized"}) + "\n")
        process.stdin.flush()
        request_id = 2
        while time.monotonic() < deadline:
            status = ask(request_id, "mcpServerStatus/list", {"detail": "toolsAndAuthOnly"})
            (server,) = [entry for entry in status["data"] if entry["name"] == name]
            if tools := server.get("tools"):
                return list(tools) if isinstance(tools, dict) else [tool["name"] for tool in tools]
            request_id += 1
            time.sleep(1)
        raise AssertionError(f"Codex listed no tools of {name} within {timeout} s: {server}")
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdin.close()
        process.stdout.close()


CODEX_ADD_LINES = [
    line for line in (CLIENTS / "README.md").read_text().splitlines() if line.startswith("codex mcp add ")
]


@pytest.mark.parametrize("line", CODEX_ADD_LINES, ids=["http", "token"])
def test_the_codex_mcp_add_lines_of_the_readme_connect(line: str, servers, tmp_path: Path) -> None:
    codex = npm_program(*CODEX)
    env = environment(tmp_path, CODEX_HOME=str(tmp_path / "codex"))
    (tmp_path / "codex").mkdir()
    words = shlex.split(line.replace(MCP_URL, servers["token" if "bearer-token" in line else "open"]))
    added = subprocess.run([codex, *words[1:]], env=env, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr
    assert {"GetTraceInfo", "SearchTraces"} <= set(codex_server_tools(codex, env, "tracejudge"))
