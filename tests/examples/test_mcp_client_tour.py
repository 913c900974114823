"""examples/mcp_client_tour.py against the real server, over both transports a client uses: stdio
(the tour starts `tracejudge stdio`) and streamable HTTP (`tracejudge serve`). These need the MCP
server (mcp_server.server.create_server) and its trace tools."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from store import Database
from tests.support.processes import TRACEJUDGE, free_port, serve

TOUR = Path(__file__).resolve().parents[2] / "examples" / "mcp_client_tour.py"


def run_tour(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    return subprocess.run(
        [sys.executable, str(TOUR), "--timeout", "60", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def assert_found_the_misroute(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "handled by product_specialist; lookup_invoice never ran" in result.stdout
    assert "system prompt rule: 1. roaming, coverage" in result.stdout


@pytest.mark.slow
def test_the_tour_over_stdio_finds_the_misrouted_roaming_trace(demo_db: Path):
    assert_found_the_misroute(run_tour("--stdio", "--db", str(demo_db), "--command", TRACEJUDGE))


@pytest.mark.slow
def test_the_tour_over_http_finds_the_misrouted_roaming_trace(demo_db: Path):
    with serve(demo_db) as url:
        result = run_tour("--url", f"{url}/mcp")
    assert_found_the_misroute(result)


@pytest.mark.slow
def test_the_tour_exits_non_zero_when_no_trace_mentions_roaming(tmp_path: Path):
    Database(tmp_path / "empty.db").close()
    result = run_tour("--stdio", "--db", str(tmp_path / "empty.db"), "--command", TRACEJUDGE)
    assert result.returncode == 1
    assert "no trace mentions a roaming charge" in result.stderr


def test_the_tour_exits_non_zero_when_no_server_answers():
    url = f"http://127.0.0.1:{free_port()}/mcp"
    result = run_tour("--url", url)
    assert result.returncode == 1
    assert f"tour failed: could not talk to {url}" in result.stderr
