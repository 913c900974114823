"""The README's production walkthrough, line by line, as a user types it: `tracejudge serve`, a
routing judge, a monitor on it, the demo agent sending its traces over OTLP, the monitor's
metrics, and DiscoverIssues naming the misroute and the coverage timeout. The model is the scripted
one (the export line's key is replaced by the scripted server's address); the port is a free one."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from store import Database
from store import monitors as monitor_store
from tests.support.northwind import NamingModels
from tests.support.processes import TRACEJUDGE, _environment, free_port
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai

__all__ = ["scripted_openai"]

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def walkthrough() -> list[str]:
    """The walkthrough's command lines, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    body = block.split("```sh\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"\s+#.*$", "", line) for line in body.splitlines() if line.strip()]


def _wait(condition, what: str, timeout: float = 60) -> None:  # noqa: ANN001 (a predicate)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def test_the_readme_production_walkthrough_runs_as_written(tmp_path: Path, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.respond_with(NamingModels())
    lines = walkthrough()
    exported = dict(item.split("=", 1) for item in shlex.split(lines[0])[1:])
    assert set(exported) == {"TRACEJUDGE_JUDGE_MODEL", "TRACEJUDGE_JUDGE_API_KEY"}
    port = free_port()
    db = tmp_path / "tracejudge.db"
    env = _environment({**exported, "TRACEJUDGE_JUDGE_API_KEY": "sk-scripted", "TRACEJUDGE_JUDGE_API_BASE": scripted_openai.url,
                        "TRACEJUDGE_DB": str(db), "TRACEJUDGE_PORT": str(port), "TRACEJUDGE_MONITOR_POLL_S": "0.2"})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    printed: dict[str, str] = {}
    server = None
    try:
        for line in lines[1:]:
            words = shlex.split(line)
            if line == "tracejudge serve &":
                server = subprocess.Popen([TRACEJUDGE, "serve"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)  # fmt: skip
                _wait(lambda: _healthy(url), "serve answering /health")
                continue
            if words[0] == "python":  # the agent, pointed at the free port
                done = subprocess.run([sys.executable, *words[1:], "--endpoint", f"{url}/v1/traces"], env=env, cwd=ROOT,
                                      capture_output=True, text=True, timeout=120)  # fmt: skip
                assert done.returncode == 0, done.stderr
                _wait(lambda: _judged(db, "routing") == 10, "the monitor judging the ten traces")
                continue
            assert words[0] == "tracejudge", line
            done = subprocess.run([TRACEJUDGE, *words[1:]], env={**env, "COLUMNS": "160"}, capture_output=True,
                                  text=True, timeout=120)  # fmt: skip
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            printed[" ".join(words[1:3])] = done.stdout
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    show, issues = printed["monitors show"], printed["issues discover"]
    assert "10 judged" in show and re.search(r"routing\s+│\s+10\s+│\s+80%", show), show
    assert "Coverage checks time out" in issues and "Billing questions sent to the product specialist" in issues, issues
    assert "10 traces triaged, 3 with failures, gathered into 2 issues (2 new)" in issues, issues


def _healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/health", timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


def _judged(path: Path, monitor: str) -> int:
    db = Database(path)
    try:
        return monitor_store.state_counts(db, monitor)["judged"]  # 0 before the monitor exists
    finally:
        db.close()
