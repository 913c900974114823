"""Starting the real `tracejudge` command as a subprocess, bounded in time."""

from __future__ import annotations

import os
import resource
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
    db: Path,
    *args: str,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    open_files: tuple[int, int] | None = None,
    output: list[str] | None = None,
) -> Iterator[str]:
    """Run `tracejudge serve` on a free port; yields its base URL once /health answers. The
    caller's TRACEJUDGE_* variables are left out; `env` adds variables (e.g. a judge model).
    `open_files` is the (soft, hard) RLIMIT_NOFILE it starts with; `output`, if given, receives
    what the server printed once it has stopped."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    environment.update(env or {})

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

    process = subprocess.Popen(
        [TRACEJUDGE, "serve", "--db", str(db), "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        preexec_fn=limit_open_files if open_files is not None else None,
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
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            if output is not None:
                output.append(process.stdout.read().decode(errors="replace"))
            process.stdout.close()
