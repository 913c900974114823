"""Opening the database: pragmas, the writer lock, pooled readers, transactions, tracing.

One writer connection guarded by a lock (SQLite allows one writer at a time anyway, and a
Python-side lock turns contention into a short wait instead of SQLITE_BUSY), and one reader
connection per live thread so readers never wait for the writer under WAL. A thread keeps its
reader until it ends; the next thread to need one takes it over, so worker pools that replace
their threads (anyio retires a thread idle for 10 s) reuse connections instead of leaking one
per thread that ever lived.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from store.errors import SqliteTooOld
from store.log_events import Attach, add_events
from store.migrations import migrate

SqlTracer = Callable[[str], None]

MIN_SQLITE = (3, 38, 0)
"""The oldest SQLite the store's SQL runs on: `->>` (store/search.py, store/labeling.py) came in
3.38; RETURNING and DROP COLUMN (3.35), window functions and upsert are older."""


def check_sqlite_version() -> None:
    """SqliteTooOld when the SQLite library Python links against is older than MIN_SQLITE: said at
    open, not as a syntax error in the middle of a search."""
    found = sqlite3.sqlite_version_info
    if found < MIN_SQLITE:
        raise SqliteTooOld(
            f"this Python uses SQLite {'.'.join(map(str, found))}, and tracejudge needs "
            f"{'.'.join(map(str, MIN_SQLITE))} or newer; use a Python built against a newer SQLite "
            "(python.org's builds and current Linux distributions' have one)."
        )
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

IDLE_READERS = 8
"""Reader connections kept open, beyond those live threads hold, for the next threads to take;
more are closed (each may hold up to 64 MiB of page cache)."""


BUSY_RETRY_SECONDS = 10.0
"""How long opening a file retries a pragma that SQLite refused as busy without waiting."""


def _pragma(conn: sqlite3.Connection, name: str, value: str) -> None:
    # Processes opening a new file at once all read it and then switch it to WAL, which needs it
    # alone: SQLite answers SQLITE_BUSY at once rather than wait (busy_timeout), as two readers
    # that both wait to write would deadlock. The winner's switch takes milliseconds.
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    while True:
        try:
            conn.execute(f"PRAGMA {name}={value}")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _connect(path: str, tracer: SqlTracer | None) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for name, value in PRAGMAS:
        _pragma(conn, name, value)
    if tracer is not None:
        conn.set_trace_callback(tracer)
    return conn


class Database:
    """A tracejudge SQLite file: migrated on open, one writer, a reader per live thread.

    `attach_events` is how a span written here takes log events (store.log_events): every path
    that writes spans writes them through this object, so the hook travels with it. The servers
    and the CLI open the store with the semantic conventions' (mcp_server.terminal.commands).
    """

    def __init__(self, path: str | Path, *, tracer: SqlTracer | None = None, attach_events: Attach = add_events) -> None:
        check_sqlite_version()
        self.path = str(path)
        self.attach_events = attach_events
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._tracer = tracer
        self._write_lock = threading.Lock()
        self._writer = _connect(self.path, tracer)
        self._local = threading.local()
        # Readers held by threads (by the Thread, not its ident, which a new thread may reuse),
        # and readers whose thread ended, waiting for the next thread.
        self._leased: dict[threading.Thread, sqlite3.Connection] = {}
        self._idle: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        with self._write_lock:
            migrate(self._writer)

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection, the same on every call while the thread lives (a
        :memory: database has only the writer's). It and its cursors belong to this thread: a
        thread that ends gives the connection to the next thread that asks."""
        if self.path == ":memory:":
            return self._writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._lease(threading.current_thread())
            self._local.conn = conn
        return conn

    def _lease(self, thread: threading.Thread) -> sqlite3.Connection:
        with self._readers_lock:
            # Reclaimed here rather than when a thread ends: nothing runs reliably at a thread's
            # end, and a thread that needs a reader is when one is wanted back.
            for ended in [t for t in self._leased if not t.is_alive()]:
                self._idle.append(self._leased.pop(ended))
            surplus = self._idle[IDLE_READERS:]
            del self._idle[IDLE_READERS:]
            conn = self._idle.pop() if self._idle else None
        for extra in surplus:
            extra.close()
        if conn is None:
            conn = _connect(self.path, self._tracer)
            conn.execute("PRAGMA query_only=ON")
        with self._readers_lock:
            self._leased[thread] = conn
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

    def _readers(self) -> list[sqlite3.Connection]:
        with self._readers_lock:
            return [*self._leased.values(), *self._idle]

    def set_tracer(self, tracer: SqlTracer | None) -> None:
        """Install (or remove, with None) a per-statement callback on every connection."""
        self._tracer = tracer
        for conn in [self._writer, *self._readers()]:
            conn.set_trace_callback(tracer)

    def close(self, *, checkpoint: bool = False) -> None:
        """Close every connection. With `checkpoint`, first move everything the WAL holds into
        the database file and empty the WAL, so the file alone is the whole store even while
        another process has it open (SQLite does that itself only when the last connection to
        the file, in any process, closes). Servers checkpoint as they stop; a short command does
        not, as the wait could hold up a server's writes."""
        with self._readers_lock:
            readers = [*self._leased.values(), *self._idle]
            self._leased.clear()
            self._idle.clear()
        for conn in readers:
            conn.close()
        with self._write_lock:
            if checkpoint and self.path != ":memory:":
                # TRUNCATE waits (busy_timeout) for other processes' readers and writer, and holds
                # off new writers meanwhile. Past that wait it answers "busy" instead of raising,
                # and what it could not move stays safe in the WAL for the next checkpoint.
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._writer.close()
