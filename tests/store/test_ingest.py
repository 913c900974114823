"""The write path: idempotent, order-independent, atomic per batch, totals kept without re-reads."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import threading
from pathlib import Path

import pytest

from store import Database, SpanIn, migrations, write_spans
from store.errors import SchemaTooNew
from store.ingest import PREVIEW_CHARS
from store.migrations import SCHEMA_VERSION, migrate
from store.traces import get_trace

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
    with pytest.raises(SchemaTooNew, match="upgrade tracejudge"):
        Database(path)


def test_pragmas_are_applied_on_every_connection(db: Database) -> None:
    with db.transaction() as writer:
        assert writer.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for conn in (db.reader(), db._writer):
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


# --- unknown usage, previews, span metadata (issue 8) ----------------------------------------------

def test_a_trace_whose_spans_report_no_usage_has_null_totals_not_zero(db: Database) -> None:
    write_spans(db, [span(1, input_tokens=None, output_tokens=None, total_tokens=None, cost=None)])
    row = trace_row(db)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"], row["cost"]) == (None, None, None, None)
    record = get_trace(db, TRACE)
    assert (record.input_tokens, record.total_tokens, record.cost) == (None, None, None)


def test_totals_sum_what_is_known_and_turn_null_again_when_the_only_report_is_replaced(db: Database) -> None:
    unknown = dict(input_tokens=None, output_tokens=None, total_tokens=None, cost=None)
    write_spans(db, [span(1, **unknown), span(3, cost=None)])  # span 3 knows tokens, not cost
    row = trace_row(db)
    assert (row["input_tokens"], row["total_tokens"], row["cost"]) == (10, 15, None)
    write_spans(db, [span(5, input_tokens=None, cost=0.25)])
    row = trace_row(db)
    assert (row["input_tokens"], row["output_tokens"], row["cost"]) == (10, 10, 0.25)
    write_spans(db, [span(3, **unknown), span(5, **unknown)])  # sent again, now without usage
    row = trace_row(db)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"], row["cost"]) == (None,) * 4


def _previews(db: Database) -> tuple[str | None, str | None]:
    row = trace_row(db)
    return row["request_preview"], row["response_preview"]


def test_previews_come_from_the_first_and_last_model_span_when_the_root_has_no_text(db: Database, tmp_path: Path) -> None:
    no_text = dict(inputs_json=None, outputs_json=None)
    spans = [
        span(1, span_type="AGENT", **no_text),  # the root: no payload
        span(2, span_type="TOOL", start_ns=500, request_text="a tool's input", response_text="a tool's output"),
        span(3, span_type="CHAT_MODEL", start_ns=1_003, end_ns=1_100, request_text="the question", response_text=None),
        span(5, span_type="LLM", start_ns=1_200, end_ns=3_000, request_text="follow-up", response_text="the answer"),
        span(7, span_type="LLM", start_ns=1_300, end_ns=2_000, request_text="side call", response_text="an aside"),
    ]
    write_spans(db, spans)
    assert _previews(db) == ("the question", "the answer")
    for seed in range(3):  # children before their root, one span a request, any order
        shuffled = spans[:]
        random.Random(seed).shuffle(shuffled)
        other = Database(tmp_path / f"order{seed}.db")
        for one in shuffled:
            write_spans(other, [one])
        assert _previews(other) == ("the question", "the answer")
        other.close()


def test_the_roots_text_wins_and_a_json_payload_is_the_last_resort(db: Database) -> None:
    write_spans(db, [span(1, inputs_json='{"order": 42}', outputs_json=None)])
    assert _previews(db) == ('{"order": 42}', None)
    write_spans(db, [span(3, span_type="LLM", request_text="the question", response_text="the answer")])
    assert _previews(db) == ("the question", "the answer")
    write_spans(db, [span(1, request_text="the user asked", response_text="we answered")])
    assert _previews(db) == ("the user asked", "we answered")
    write_spans(db, [span(5, span_type="LLM", start_ns=1, end_ns=10**12, request_text="earlier", response_text="later")])
    assert _previews(db) == ("the user asked", "we answered")


def test_a_preview_is_cut_to_its_length(db: Database) -> None:
    write_spans(db, [span(1, request_text="q" * 5_000)])
    assert _previews(db)[0] == "q" * PREVIEW_CHARS


def _metadata(db: Database) -> dict[str, str]:
    return get_trace(db, TRACE).metadata


def test_span_metadata_is_the_traces_from_the_root_or_where_every_span_agrees(db: Database, tmp_path: Path) -> None:
    spans = [
        span(1, span_metadata={"thread_id": "t-7", "ls_integration": "langgraph"}),
        span(2, span_metadata={"thread_id": "t-7", "ls_integration": "langchain", "node": "agent", "env": "prod"}),
        span(3, span_metadata={"thread_id": "t-7", "node": "tools", "env": "prod"}),
        span(4),  # no span metadata at all: no vote
    ]
    expected = {"thread_id": "t-7", "ls_integration": "langgraph"}
    write_spans(db, spans)
    assert _metadata(db) == expected
    for seed in range(3):
        shuffled = spans[:]
        random.Random(seed).shuffle(shuffled)
        other = Database(tmp_path / f"meta{seed}.db")
        for one in shuffled:
            write_spans(other, [one])
        assert get_trace(other, TRACE).metadata == expected
        other.close()


def test_a_key_every_span_agrees_on_is_trace_metadata_until_a_span_disagrees(db: Database) -> None:
    write_spans(db, [span(2, span_metadata={"experiment": "a", "node": "x"})])
    assert _metadata(db) == {"experiment": "a", "node": "x"}
    write_spans(db, [span(3, span_metadata={"experiment": "a", "node": "y"})])
    assert _metadata(db) == {"experiment": "a"}
    write_spans(db, [span(3, span_metadata={"experiment": "a", "node": "y"})])  # sent again: one vote
    write_spans(db, [span(4, span_metadata={"experiment": "a"})])
    assert _metadata(db) == {"experiment": "a"}
    # Trace-level facts (Traceloop association properties ...) are set, not voted.
    write_spans(db, [span(5, trace_metadata={"experiment": "b", "release": "1"})])
    assert _metadata(db) == {"experiment": "b", "release": "1"}


def test_migration_009_makes_unknown_totals_null_and_keeps_known_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v8.db"
    before = [name for name, _ in migrations.MIGRATIONS].index("009_known_usage_previews_span_metadata")
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
        patch.setattr(migrations, "SCHEMA_VERSION", before)
        assert migrations.migrate(conn) == before
    known, unknown = "1" * 32, "2" * 32
    conn.executemany(
        "INSERT INTO traces (trace_id, status, root_span_id, input_tokens, output_tokens, total_tokens, cost, "
        "request_preview) VALUES (?, 'OK', 'aaaaaaaaaaaaaaaa', ?, ?, ?, ?, ?)",
        [(known, 10, 5, 15, 0.5, '"old preview"'), (unknown, 0, 0, 0, 0.0, None)],
    )
    conn.executemany(
        "INSERT INTO spans (trace_id, span_id, name, span_type, start_ns, status_code, input_tokens, output_tokens, "
        "total_tokens, cost, content_chars) VALUES (?, ?, 'x', ?, 1, 'OK', ?, ?, ?, ?, 0)",
        [
            (known, "a" * 16, "LLM", 10, 5, 15, 0.5),
            (known, "b" * 16, "AGENT", 99, 99, 99, 9.0),  # not a model span: never counted
            (unknown, "c" * 16, "LLM", None, None, None, None),
        ],
    )
    conn.close()
    db = Database(path)  # migrates
    try:
        rows = {
            r["trace_id"]: r
            for r in db.reader().execute("SELECT trace_id, input_tokens, output_tokens, total_tokens, cost FROM traces")
        }
        assert tuple(rows[known])[1:] == (10, 5, 15, 0.5)
        assert tuple(rows[unknown])[1:] == (None, None, None, None)
        write_spans(db, [SpanIn(trace_id=unknown, span_id="d" * 16, name="y", start_ns=2, span_type="LLM", input_tokens=3)])
        assert get_trace(db, unknown).input_tokens == 3
        # An old preview was the root's payload: a model span's text outranks it.
        write_spans(db, [SpanIn(trace_id=known, span_id="e" * 16, name="z", start_ns=2, parent_span_id="a" * 16,
                                span_type="LLM", request_text="the question")])  # fmt: skip
        assert get_trace(db, known).request_preview == "the question"
    finally:
        db.close()
