"""Copying a store, while servers go on reading and writing it, into one self-contained file:
SQLite's online backup API (copying the .db file alone would miss what sits in its WAL).

The source is opened read-only and as it is, not as a Database: a backup never migrates the store
it copies nor takes its write lock, so a store from an older tracejudge is copied at its own schema
version (the copy is migrated when opened as a store) and one from a newer tracejudge can still be
backed up."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    traces: int
    spans: int
    size_bytes: int


def backup(source: Path, dest: Path) -> BackupSummary:
    """Copy the store into `dest` (replacing it if it exists) as one consistent snapshot.

    The copy runs in one step, inside one read transaction: writers (in this process or any
    other) go on meanwhile, and the copy is the store as of that transaction's start. It is
    written under a temporary name beside `dest` and renamed into place, so `dest` is never a
    partial copy, and it is left in rollback-journal mode: one file, with no -wal beside it."""
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    target = sqlite3.connect(partial, isolation_level=None)
    try:
        # A server's write holds the WAL only briefly; wait for it rather than fail.
        reader.execute("PRAGMA busy_timeout=10000")
        reader.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        traces = target.execute("SELECT count(*) FROM traces").fetchone()[0]
        spans = target.execute("SELECT count(*) FROM spans").fetchone()[0]
    except BaseException:
        target.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        reader.close()
    target.close()
    os.replace(partial, dest)
    return BackupSummary(path=dest, traces=traces, spans=spans, size_bytes=dest.stat().st_size)
