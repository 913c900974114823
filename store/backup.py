"""Copying a store, while servers go on reading and writing it, into one self-contained file:
SQLite's online backup API (copying the .db file alone would miss what sits in its WAL)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from store.connection import Database


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    traces: int
    spans: int
    size_bytes: int


def backup(db: Database, dest: Path) -> BackupSummary:
    """Copy the store into `dest` (replacing it if it exists) as one consistent snapshot.

    The copy runs in one step, inside one read transaction: writers (in this process or any
    other) go on meanwhile, and the copy is the store as of that transaction's start. It is
    written under a temporary name beside `dest` and renamed into place, so `dest` is never a
    partial copy, and it is left in rollback-journal mode: one file, with no -wal beside it."""
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial, isolation_level=None)
    try:
        db.reader().backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        traces = target.execute("SELECT count(*) FROM traces").fetchone()[0]
        spans = target.execute("SELECT count(*) FROM spans").fetchone()[0]
    except BaseException:
        target.close()
        partial.unlink(missing_ok=True)
        raise
    target.close()
    os.replace(partial, dest)
    return BackupSummary(path=dest, traces=traces, spans=spans, size_bytes=dest.stat().st_size)
