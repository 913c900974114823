"""A second Ctrl-C ends `tracejudge serve` at once, whatever holds up the first one's clean stop:
a slow request uvicorn is draining, or the store's checkpoint waiting for another program."""

from __future__ import annotations

import queue
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from mcp_server.demo.load import demo_request
from tests.support.processes import serve_process

pytestmark = pytest.mark.slow

PROMPTLY_S = 8
"""Less than the 10 s the checkpoint waits for a reader (busy_timeout): a stop that waits for it
is not the one a second Ctrl-C asks for."""


def _export(url: str) -> None:
    """A batch the server commits to its WAL, which its clean stop moves into the file."""
    response = httpx2.post(
        f"{url}/v1/traces", content=demo_request(), headers={"content-type": "application/x-protobuf"}, timeout=30
    )
    assert response.status_code == 200


@contextmanager
def _reading(db: Path) -> Iterator[None]:
    """Another program in a read transaction: the server's checkpoint waits for it (busy_timeout)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM traces").fetchall()
        yield
    finally:
        conn.close()


def _lines(process: subprocess.Popen[bytes]) -> queue.Queue[str]:
    """What the server prints, line by line, read by a thread so every wait can be bounded."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.decode(errors="replace"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        if text in line:
            return


def _stopped_listening(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx2.get(f"{url}/health", timeout=1)
        except httpx2.TransportError:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server still answered /health {timeout} s after SIGINT")


def test_a_second_ctrl_c_while_a_slow_request_is_drained_quits_without_waiting_for_the_store(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    # A body that may take 10 minutes: uvicorn's drain waits for it after the first Ctrl-C.
    env = {"TRACEJUDGE_BODY_TIMEOUT_S": "600", "TRACEJUDGE_BODY_MIN_RATE": "1"}
    with serve_process(db, env=env) as (url, process):
        _export(url)
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as slow, _reading(db):
            slow.sendall(
                f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/x-protobuf\r\n"
                "content-length: 2000\r\n\r\n".encode()
                + b"\0" * 1000
            )
            process.send_signal(signal.SIGINT)
            _stopped_listening(url)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=PROMPTLY_S) == -signal.SIGINT


def test_a_second_ctrl_c_while_the_store_is_being_closed_ends_the_process_at_once(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    with serve_process(db) as (url, process):
        lines = _lines(process)
        _export(url)
        with _reading(db):
            process.send_signal(signal.SIGINT)
            _wait_for_line(lines, "Ctrl-C again to quit at once")
            # The checkpoint now waits for the reader; the second Ctrl-C must not wait with it.
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == -signal.SIGINT
