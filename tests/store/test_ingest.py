"""The write path: idempotent, order-independent, atomic per batch, totals kept without re-reads."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import threading
from pathlib import Path

import pytest

from store import Database, SpanIn, write_spans
from store.migrations import SCHEMA_VERSION, migrate

TRACE = "ab" * 16


def span(i: int, **fields: object) -> SpanIn:
    values: dict[str, object] = dict(
        trace_id=TRACE,
        span_id=f"{i:016x}",
        parent_span_id=None if i == 1 else f"{1:016x}",
        name=f"step {i}",
        start_ns=1_000 + i,
        end_ns=2_000 + i,
        span_type="LLM" if i % 2 else "TOOL",
        input_tokens=10,
        output_tokens=5,
        total_tokens=15,
        cost=0.5,
        inputs_json=f'"question {i}"',
    )
    values.update(fields)
    return SpanIn(**values)  # type: ignore[arg-type]


def trace_row(db: Database) -> sqlite3.Row:
    return db.reader().execute("SELECT * FROM traces WHERE trace_id = ?", (TRACE,)).fetchone()


def fts_rowids(db: Database, query: str) -> set[int]:
    return {r[0] for r in db.reader().execute("SELECT rowid FROM spans_fts WHERE spans_fts MATCH ?", (query,))}


def test_spans_in_any_order_and_any_batching_give_the_same_trace(db: Database, tmp_path: Path) -> None:
    spans = [span(i, status_code="ERROR" if i == 4 else "OK") for i in range(1, 21)]
    write_spans(db, spans)
    shuffled = spans[:]
    random.Random(7).shuffle(shuffled)
    other = Database(tmp_path / "other.db")
    for start in range(0, 20, 3):  # children before their root, many requests
        write_spans(other, shuffled[start : start + 3])
    columns = ("name", "start_ns", "end_ns", "status", "root_span_id", "span_count", "error_count",
               "input_tokens", "output_tokens", "total_tokens", "cost", "request_preview")  # fmt: skip
    assert tuple(trace_row(db)[c] for c in columns) == tuple(trace_row(other)[c] for c in columns)
    row = trace_row(other)
    assert (row["span_count"], row["error_count"], row["root_span_id"]) == (20, 1, f"{1:016x}")
    # tokens and cost count on model spans only (the 10 odd-numbered LLM spans)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"], row["cost"]) == (100, 50, 150, 5.0)
    assert (row["start_ns"], row["end_ns"]) == (1_001, 2_020)
    other.close()


def test_a_trace_without_its_root_is_in_progress_until_the_root_arrives(db: Database) -> None:
    write_spans(db, [span(2), span(3)])
    assert trace_row(db)["status"] == "IN_PROGRESS"
    write_spans(db, [span(1, status_code="ERROR", outputs_json='"failed"')])
    row = trace_row(db)
    assert (row["status"], row["name"], row["response_preview"]) == ("ERROR", "step 1", '"failed"')


def test_the_same_span_sent_again_is_one_row_and_moves_totals_by_the_difference(db: Database) -> None:
    write_spans(db, [span(1), span(3)])
    write_spans(db, [span(3), span(3)])
    assert trace_row(db)["span_count"] == 2
    assert trace_row(db)["input_tokens"] == 20
    write_spans(db, [span(3, input_tokens=100, status_code="ERROR")])
    row = trace_row(db)
    assert (row["span_count"], row["input_tokens"], row["error_count"]) == (2, 110, 1)


def test_a_replaced_span_is_found_by_its_new_text_only(db: Database) -> None:
    write_spans(db, [span(1, inputs_json='"zebra crossing"')])
    (rowid,) = fts_rowids(db, "zebra")
    write_spans(db, [span(1, inputs_json='"giraffe neck"')])
    assert fts_rowids(db, "zebra") == set()
    assert fts_rowids(db, "giraffe") == {rowid}


def test_words_after_an_escaped_newline_are_indexed_as_words(db: Database) -> None:
    write_spans(db, [span(1, outputs_json='"Sure.\\nRefunds take\\t30 days"')])
    assert fts_rowids(db, "refunds") and fts_rowids(db, "30")
    assert fts_rowids(db, "nrefunds") == set()


def test_a_batch_that_fails_in_the_database_stores_nothing(db: Database) -> None:
    write_spans(db, [span(1)])
    broken = dataclasses.replace(span(3), start_ns=None)  # violates NOT NULL, inside the transaction
    with pytest.raises(sqlite3.IntegrityError):
        write_spans(db, [span(2), broken])
    assert db.reader().execute("SELECT count(*) FROM spans").fetchone()[0] == 1
    assert trace_row(db)["span_count"] == 1


def test_tags_are_last_write_wins_and_metadata_first_write_wins(db: Database) -> None:
    write_spans(db, [span(1, trace_tags={"env": "dev"}, trace_metadata={"release": "1"}, session_id="s1")])
    write_spans(db, [span(2, trace_tags={"env": "prod"}, trace_metadata={"release": "2"}, session_id="s2")])
    reader = db.reader()
    assert reader.execute("SELECT value FROM trace_tags WHERE key = 'env'").fetchone()[0] == "prod"
    assert reader.execute("SELECT value FROM trace_metadata WHERE key = 'release'").fetchone()[0] == "1"
    assert trace_row(db)["session_id"] == "s1"


def test_two_writers_on_one_file_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Database(path).close()
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        db = Database(path)
        try:
            for batch in range(20):
                spans = [
                    span(offset + batch * 10 + i, trace_id=f"{offset + batch:032x}", parent_span_id=None)
                    for i in range(10)
                ]
                write_spans(db, spans)
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (0, 100_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    db = Database(path)
    assert db.reader().execute("SELECT count(*), sum(span_count) FROM traces").fetchone()[:] == (40, 400)
    assert db.reader().execute("SELECT count(*) FROM spans").fetchone()[0] == 400
    db.close()


def test_opening_a_database_migrates_it_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Database(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION
    assert migrate(conn) == 0
    conn.close()


def test_a_database_from_a_newer_tracejudge_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Database(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'future', 0)", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade tracejudge"):
        Database(path)


def test_pragmas_are_applied_on_every_connection(db: Database) -> None:
    with db.transaction() as writer:
        assert writer.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for conn in (db.reader(), db._writer):
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
