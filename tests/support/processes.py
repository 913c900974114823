"""Starting the real `tracejudge` command as a subprocess, bounded in time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2

TRACEJUDGE = str(Path(sys.executable).with_name("tracejudge"))
"""The console script installed next to this interpreter: what a user runs."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(
    db: Path, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run `tracejudge serve` on a free port; yields its base URL once /health answers. The
    caller's TRACEJUDGE_* variables are left out; `env` adds variables (e.g. a judge model)."""
    with serve_process(db, *args, timeout=timeout, env=env) as (url, _):
        yield url


@contextmanager
def serve_process(
    db: Path, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`serve`, also yielding the process (to signal it); terminated at the end if still running."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    environment.update(env or {})
    process = subprocess.Popen(
        [TRACEJUDGE, "serve", "--db", str(db), "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"tracejudge serve exited with {process.returncode}:\n{output}")
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tracejudge serve did not answer /health within {timeout} s")
            time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
