"""Starting the real `tracejudge` command as a subprocess, bounded in time."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2

TRACEJUDGE = str(Path(sys.executable).with_name("tracejudge"))
"""The console script installed next to this interpreter: what a user runs."""


CHECKOUT = str(Path(__file__).resolve().parents[2])
"""The checkout these tests belong to: the server runs its code, whichever checkout the console
script's editable install points at (a second worktree shares the first one's venv)."""


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment without the caller's TRACEJUDGE_* variables, with this checkout
    first on PYTHONPATH, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (CHECKOUT, os.environ.get("PYTHONPATH")) if p)
    environment.update(env or {})
    return environment


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
    with serve_process(db, *args, timeout=timeout, env=env, open_files=open_files, output=output) as (url, _):
        yield url


@contextmanager
def serve_process(
    db: Path,
    *args: str,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    open_files: tuple[int, int] | None = None,
    output: list[str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`serve`, also yielding the process (to signal it); terminated at the end if still running."""
    port = free_port()

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

    process = subprocess.Popen(
        [TRACEJUDGE, "serve", "--db", str(db), "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_environment(env),
        preexec_fn=limit_open_files if open_files is not None else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                printed = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"tracejudge serve exited with {process.returncode}:\n{printed}")
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
            if output is not None:
                output.append(process.stdout.read().decode(errors="replace"))
            process.stdout.close()


def serve_start_output(db: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> str:
    """What `tracejudge serve` prints on stderr up to the line saying where its health check
    listens (or until it exits); the server is stopped then."""
    command = [TRACEJUDGE, "serve", "--db", str(db), "--port", str(free_port()), *args]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_environment(env)
    )
    assert process.stderr is not None
    output: list[str] = []
    try:
        # A watchdog bounds the wait: killing the process ends the read loop below.
        with _killed_after(process, timeout):
            for line in process.stderr:
                output.append(line)
                if "health:" in line:
                    break
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()
    return "".join(output)


@contextmanager
def _killed_after(process: subprocess.Popen[str], timeout: float) -> Iterator[None]:
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def serve_exit(
    db: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run `tracejudge serve` that is expected to refuse to start; its exit status and output."""
    command = [TRACEJUDGE, "serve", "--db", str(db), "--port", str(free_port()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_environment(env))
