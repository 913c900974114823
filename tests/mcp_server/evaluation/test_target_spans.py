"""The OpenTelemetry SDK behind running targets is imported on the first run, not with the server,
and its tracing is set up once however many threads ask for it first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_starting_the_server_does_not_import_the_opentelemetry_sdk() -> None:
    result = run_python(
        "import sys, tempfile\n"
        "import mcp_server.cli, mcp_server.evaluation.run, mcp_server.evaluation.targets\n"
        "from mcp_server.server import create_server\n"
        "from mcp_server.settings import Settings\n"
        "from store import Database\n"
        "db = Database(tempfile.mkdtemp() + '/t.db')\n"
        "create_server(Settings(), db)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter')))\n"
        "assert not loaded, loaded\n"
    )
    assert result.returncode == 0, result.stderr


def test_the_first_runs_from_many_threads_share_one_processor_and_set_up_the_global_provider() -> None:
    result = run_python(
        "import threading\n"
        "from opentelemetry import trace\n"
        "from mcp_server.evaluation.target_spans import target_spans\n"
        "barrier = threading.Barrier(8)\n"
        "got = []\n"
        "def first():\n"
        "    barrier.wait()\n"
        "    got.append(target_spans())\n"
        "threads = [threading.Thread(target=first) for _ in range(8)]\n"
        "for t in threads: t.start()\n"
        "for t in threads: t.join()\n"
        "assert len(got) == 8 and all(s is got[0] for s in got), got\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "assert isinstance(trace.get_tracer_provider(), TracerProvider)  # set up for the agent's spans\n"
    )
    assert result.returncode == 0, result.stderr
