"""The real `tracejudge serve` in a subprocess, with its start time and memory readable."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

TRACEJUDGE = str(Path(sys.executable).with_name("tracejudge"))
ROOT = Path(__file__).resolve().parents[1]
"""The checkout the benchmark runs from: the server imports its code, not whichever checkout the
environment's editable install points at (a git worktree shares the main checkout's venv)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, db: Path, *args: str, open_files: int | None = None, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        """`open_files`: the server's RLIMIT_NOFILE (soft and hard), as under `ulimit -n`; `env`:
        TRACEJUDGE_* variables to set (this process's own are left out); `log`: a file for the
        server's stderr (discarded without)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}, **(env or {})}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self._log = open(log, "wb") if log is not None else None  # noqa: SIM115 (closed in stop())

        def limit_open_files() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        started = time.perf_counter()
        self.process = subprocess.Popen(
            [TRACEJUDGE, "serve", "--db", str(db), "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log if self._log is not None else subprocess.DEVNULL,
            env=env,
            preexec_fn=limit_open_files if open_files is not None else None,
        )
        while True:
            try:
                if httpx2.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if self.process.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError("tracejudge serve did not start")
            time.sleep(0.005)
        self.start_seconds = time.perf_counter() - started

    def memory_mib(self, field: str = "VmRSS") -> float:
        """VmRSS (now) or VmHWM (peak) of the server process, in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"{field} not found")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
