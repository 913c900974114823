"""store.connection: reader connections are bounded however threads come and go, and a closed
store is one self-contained file."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from store import Database
from store.traces import trace_exists
from tests.mcp_server.traces.builders import TRACE_ID, small_trace
from tests.support.descriptors import open_files


def _read_in_threads(db: Database, count: int) -> None:
    threads = [threading.Thread(target=trace_exists, args=(db, TRACE_ID)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_reader_connections_stay_bounded_over_many_bursts_of_threads_that_come_and_go(tmp_path: Path) -> None:
    db = Database(tmp_path / "traces.db")
    try:
        small_trace(db)
        for _ in range(25):
            # Eight new threads each time, every one of them ended before the next burst: a
            # connection per thread that ever lived would reach 200.
            _read_in_threads(db, 8)
            # Each connection holds the .db file open once (the writer too).
            assert open_files(tmp_path)["traces.db"] <= 1 + 8
    finally:
        db.close()
    assert open_files(tmp_path) == Counter()


def test_a_thread_keeps_its_reader_while_it_lives(db: Database) -> None:
    seen: list[sqlite3.Connection] = []
    read, done = threading.Event(), threading.Event()

    def read_twice() -> None:
        seen.extend([db.reader(), db.reader()])
        read.set()
        done.wait(timeout=30)

    thread = threading.Thread(target=read_twice)
    thread.start()
    try:
        assert read.wait(timeout=30)
        # Another live thread never gets the connection a live thread holds.
        assert seen[0] is seen[1] and db.reader() is not seen[0]
    finally:
        done.set()
        thread.join()


def test_a_store_closed_with_a_checkpoint_is_one_file_while_another_connection_is_open(tmp_path: Path) -> None:
    # Another process reading the file (a CLI command beside `serve`) keeps SQLite from
    # checkpointing on the last close, so a stopping server checkpoints itself.
    db = Database(tmp_path / "traces.db")
    other = sqlite3.connect(tmp_path / "traces.db")
    try:
        other.execute("SELECT count(*) FROM traces").fetchone()
        small_trace(db)
        _read_in_threads(db, 4)
        db.close(checkpoint=True)
        assert (tmp_path / "traces.db-wal").stat().st_size == 0
    finally:
        other.close()
    copy = tmp_path / "copy" / "traces.db"
    copy.parent.mkdir()
    shutil.copyfile(tmp_path / "traces.db", copy)
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("SELECT count(*) FROM spans WHERE trace_id = ?", (TRACE_ID,)).fetchone()[0] == 4
    finally:
        conn.close()
