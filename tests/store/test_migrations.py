"""store.migrations: a new file opened by several processes at once is migrated exactly once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import traceback
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from store import Database
from store.migrations import MIGRATIONS

PROCESSES = 4
ROUNDS = 12


def _open_new_files(folder: str, barrier: Barrier, results: multiprocessing.Queue) -> None:
    """In a child process: each round, open that round's new file the moment every process is ready."""
    for round_number in range(ROUNDS):
        barrier.wait(timeout=60)
        try:
            Database(Path(folder) / f"round-{round_number}.db").close()
        except Exception:  # every failure is the finding: report it, do not stop the round
            results.put((round_number, traceback.format_exc(limit=-3)))
        else:
            results.put((round_number, "ok"))


def test_processes_opening_a_new_file_at_once_all_succeed_and_migrate_it_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    children = [
        context.Process(target=_open_new_files, args=(str(tmp_path), barrier, results)) for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        outcomes = [results.get(timeout=120) for _ in range(PROCESSES * ROUNDS)]
    finally:
        for child in children:
            child.join(timeout=60)
    failures = [outcome for outcome in outcomes if outcome[1] != "ok"]
    assert not failures, failures
    for round_number in range(ROUNDS):
        conn = sqlite3.connect(tmp_path / f"round-{round_number}.db")
        try:
            applied = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
        finally:
            conn.close()
        assert applied == [(n, name) for n, (name, _) in enumerate(MIGRATIONS, start=1)]


def test_a_migrated_file_opens_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    Database(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # an import, or serve, in the middle of a batch
    try:
        # Taking the write lock to read the version would wait out busy_timeout and fail.
        Database(path).close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_file_from_a_newer_tracejudge_is_refused_by_the_cli_saying_to_upgrade(tmp_path: Path) -> None:
    import subprocess

    from tests.support.processes import TRACEJUDGE

    path = tmp_path / "newer.db"
    Database(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, applied_ns) VALUES (999, 'future', 0)")
    done = subprocess.run([TRACEJUDGE, "traces", "--db", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "schema version 999, newer than this tracejudge" in done.stderr
    assert "upgrade tracejudge" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_sqlite_older_than_the_store_needs_is_refused_at_open_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No SQLite older than 3.38 can be had here; the version Python reports is the one input.
    from mcp_server.cli import main

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 37, 2))
    assert main(["traces", "--db", str(tmp_path / "t.db")]) == 2
    err = capsys.readouterr().err
    assert "SQLite 3.37.2" in err and "3.38.0 or newer" in err
    assert not (tmp_path / "t.db").exists()


def test_opening_a_migrated_file_does_not_import_sqlite_utils(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "traces.db"
    Database(path).close()
    code = (
        "import sys\n"
        "from store import Database\n"
        f"Database({str(path)!r}).close()\n"
        "assert 'sqlite_utils' not in sys.modules, 'imported sqlite_utils'\n"
        f"Database({str(tmp_path / 'new.db')!r}).close()\n"
        "assert 'sqlite_utils' in sys.modules, 'a new file was migrated without sqlite_utils'\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
