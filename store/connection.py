"""Opening the database: pragmas, the writer lock, per-thread readers, transactions, tracing.

One writer connection guarded by a lock (SQLite allows one writer at a time anyway, and a
Python-side lock turns contention into a short wait instead of SQLITE_BUSY), and one reader
connection per thread so readers never wait for the writer under WAL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from store.migrations import migrate

SqlTracer = Callable[[str], None]
"""Called with each SQL statement's text as it runs; bench/ and tests count statements with it."""

PRAGMAS: tuple[tuple[str, str], ...] = (
    # Readers never block the writer and the writer never blocks readers.
    ("journal_mode", "WAL"),
    # A second process writing (import while serve runs) waits instead of failing at once.
    ("busy_timeout", "10000"),
    # Assessments and events must not outlive their span or trace.
    ("foreign_keys", "ON"),
    # Durable at each checkpoint, and safe under WAL; OFF could corrupt the file on power loss.
    ("synchronous", "NORMAL"),
    # Large traces sort and join in memory rather than in temp files.
    ("temp_store", "MEMORY"),
    # 64 MiB of page cache per connection: a 50 MB trace's working set stays in memory.
    ("cache_size", "-65536"),
)


def _connect(path: str, tracer: SqlTracer | None) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for name, value in PRAGMAS:
        conn.execute(f"PRAGMA {name}={value}")
    if tracer is not None:
        conn.set_trace_callback(tracer)
    return conn


class Database:
    """A tracejudge SQLite file: migrated on open, one writer, a reader per thread."""

    def __init__(self, path: str | Path, *, tracer: SqlTracer | None = None) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._tracer = tracer
        self._write_lock = threading.Lock()
        self._writer = _connect(self.path, tracer)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        with self._write_lock:
            migrate(self._writer)

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (a :memory: database has only the writer's)."""
        if self.path == ":memory:":
            return self._writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._tracer)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection.

        BEGIN IMMEDIATE takes the write lock up front, so a batch never fails half way with
        SQLITE_BUSY after doing work. Any exception rolls back everything in the block: callers
        that must keep good rows beside bad ones validate before they get here.
        """
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                # Includes cancellation: a half-written batch must never be committed.
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def set_tracer(self, tracer: SqlTracer | None) -> None:
        """Install (or remove, with None) a per-statement callback on every connection."""
        self._tracer = tracer
        with self._readers_lock:
            conns = [self._writer, *self._readers]
        for conn in conns:
            conn.set_trace_callback(tracer)

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()
