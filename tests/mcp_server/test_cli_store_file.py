"""The store is one file after every clean stop of the real `tracejudge` command (SIGTERM, SIGINT,
stdin closed), and `tracejudge backup` copies a store that a server is writing, consistently."""

from __future__ import annotations

import json
import queue
import shutil
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mcp_server.demo.load import demo_request, load_demo
from store import Database
from store.migrations import MIGRATIONS, SCHEMA_VERSION
from tests.support.processes import TRACEJUDGE, serve_process

pytestmark = pytest.mark.slow

DEMO_TRACES = 10


def _alone(db: Path, folder: Path) -> Path:
    """A copy of the .db file alone, as `cp traces.db` or a file backup makes it."""
    folder.mkdir()
    return Path(shutil.copy(db, folder / db.name))


@contextmanager
def _another_reader(db: Path) -> Iterator[None]:
    """The file held open by another program (a CLI command, a second server), which keeps
    SQLite from moving the WAL into the file when the server closes its connections."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        yield
    finally:
        conn.close()


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stopped_by_a_signal_leaves_a_db_file_that_holds_every_export(tmp_path: Path, stop: int) -> None:
    db = tmp_path / "traces.db"
    with serve_process(db) as (url, process), _another_reader(db):
        exported = httpx2.post(
            f"{url}/v1/traces", content=demo_request(), headers={"content-type": "application/x-protobuf"}, timeout=30
        )
        assert exported.status_code == 200
        process.send_signal(stop)
        process.wait(timeout=30)
        copy = _alone(db, tmp_path / "copy")
    assert process.returncode in (-stop, 128 + stop)
    assert _query(copy, "SELECT count(*) FROM traces") == [(DEMO_TRACES,)]


class StdioServer:
    """`tracejudge stdio` spoken to line by line (JSON-RPC), every read bounded in time."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [TRACEJUDGE, "stdio", "--db", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.next_id = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, method: str, params: dict[str, Any], *, notify: bool = False) -> dict[str, Any] | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            self.next_id += 1
            message["id"] = self.next_id
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()
        if notify:
            return None
        while True:
            answer = json.loads(self.lines.get(timeout=60))
            if answer.get("id") == self.next_id:
                return answer


@contextmanager
def stdio_server(db: Path) -> Iterator[StdioServer]:
    server = StdioServer(db)
    try:
        server.send("initialize", {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"},
        })  # fmt: skip
        server.send("notifications/initialized", {}, notify=True)
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait(timeout=30)
        server.reader.join(timeout=30)  # it reads to the end of the output before the pipe closes
        for pipe in (server.process.stdin, server.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


@pytest.mark.parametrize("stop", ["stdin closed", "SIGTERM", "SIGINT"])
def test_stdio_ended_cleanly_leaves_a_db_file_that_holds_what_it_wrote(tmp_path: Path, stop: str) -> None:
    db = tmp_path / "traces.db"
    store = Database(db)
    load_demo(store)
    store.close()
    with stdio_server(db) as server, _another_reader(db):
        created = server.send("tools/call", {"name": "CreateDataset", "arguments": {"name": "kept"}})
        assert created is not None and not created["result"].get("isError"), created
        if stop == "stdin closed":
            assert server.process.stdin is not None
            server.process.stdin.close()
        else:
            # stdin stays open: a client that signals does not always close it first.
            server.process.send_signal(signal.Signals[stop])
        server.process.wait(timeout=30)
        copy = _alone(db, tmp_path / "copy")
    assert _query(copy, "SELECT name FROM datasets") == [("kept",)]
    assert _query(copy, "SELECT count(*) FROM traces") == [(DEMO_TRACES,)]


class Exporter(threading.Thread):
    """The real OTel SDK exporter, one export per span, until stopped; `sent` counts the traces
    whose six spans were all exported, and `twenty` is set at the 20th."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.stop = threading.Event()
        self.twenty = threading.Event()
        self.sent = 0

    def run(self) -> None:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{self.url}/v1/traces", timeout=30)))
        tracer = provider.get_tracer("backup-test")
        try:
            while not self.stop.is_set():
                with tracer.start_as_current_span("agent"):
                    for step in range(5):
                        with tracer.start_as_current_span(f"step-{step}"):
                            pass
                self.sent += 1
                if self.sent == 20:
                    self.twenty.set()
        finally:
            provider.shutdown()


def _backup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRACEJUDGE, "backup", *args], capture_output=True, text=True, timeout=120)


def test_backup_while_serve_writes_is_one_consistent_file(tmp_path: Path) -> None:
    db, dest = tmp_path / "traces.db", tmp_path / "backups" / "copy.db"
    with serve_process(db) as (url, _):
        exporter = Exporter(url)
        exporter.start()
        try:
            assert exporter.twenty.wait(timeout=120)
            done = _backup(str(dest), "--db", str(db))
            sent = exporter.sent
        finally:
            exporter.stop.set()
            exporter.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert str(dest) in done.stdout and "traces" in done.stdout
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.db"]
    assert _query(dest, "PRAGMA integrity_check") == [("ok",)]
    assert _query(dest, "PRAGMA journal_mode") == [("delete",)]
    # Each trace's totals are written with its spans, in one transaction: a torn copy would differ.
    assert _query(dest, "SELECT count(*) FROM traces t WHERE span_count != "
                        "(SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)") == [(0,)]
    (count,) = _query(dest, "SELECT count(*) FROM traces")[0]
    # Every trace the exporter had finished before the backup started, and at most the one it
    # was exporting (span by span) then.
    assert 20 <= count <= sent + 1


def test_backup_refuses_to_overwrite_unless_forced_and_needs_an_existing_store(tmp_path: Path) -> None:
    db, dest = tmp_path / "traces.db", tmp_path / "copy.db"
    store = Database(db)
    load_demo(store)
    store.close()
    dest.write_text("precious")
    refused = _backup(str(dest), "--db", str(db))
    assert refused.returncode == 2 and "--force" in refused.stderr and dest.read_text() == "precious"
    forced = _backup(str(dest), "--db", str(db), "--force")
    assert forced.returncode == 0, forced.stderr
    assert _query(dest, "SELECT count(*) FROM traces") == [(DEMO_TRACES,)]
    itself = _backup(str(db), "--db", str(db), "--force")
    assert itself.returncode == 2 and "itself" in itself.stderr
    missing = _backup(str(tmp_path / "other.db"), "--db", str(tmp_path / "nothing-here.db"))
    assert missing.returncode == 2 and "--db" in missing.stderr
    assert not (tmp_path / "nothing-here.db").exists()


def _store_at_version(path: Path, version: int) -> None:
    """A store as a tracejudge with `version` migrations left it (a later version: a newer one)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ns INTEGER NOT NULL)")
        for number, (name, step) in enumerate(MIGRATIONS[:version], start=1):
            step(conn)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (number, name))
        conn.execute("INSERT INTO traces (trace_id, created_ns) VALUES (?, 0)", ("4bf92f3577b34da6a3ce929d0e0e4736",))
        for number in range(len(MIGRATIONS[:version]) + 1, version + 1):
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'from a newer tracejudge', 0)", (number,))
    conn.close()


@pytest.mark.parametrize("version", [5, SCHEMA_VERSION + 3], ids=["older-schema", "newer-schema"])
def test_backup_copies_a_store_of_another_schema_as_it_is_without_migrating_it(tmp_path: Path, version: int) -> None:
    db, dest = tmp_path / "traces.db", tmp_path / "copy.db"
    _store_at_version(db, version)
    before = _query(db, "SELECT name FROM sqlite_master ORDER BY name")

    done = _backup(str(dest), "--db", str(db))

    assert done.returncode == 0, done.stderr
    assert "1 traces" in done.stdout
    for path in (db, dest):
        assert _query(path, "SELECT max(version) FROM schema_migrations") == [(version,)]
        assert _query(path, "SELECT name FROM sqlite_master ORDER BY name") == before
