"""store.assessments: logging, reading, listing and overriding feedback and expectations; migration 002."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store import Database, SpanIn, migrations, write_spans
from store.assessments import (
    MAX_TEXT_CHARS,
    get_assessment,
    get_assessments,
    list_assessments,
    log_assessment,
    new_assessment,
    override_assessment,
)
from store.errors import AssessmentNotFound, InvalidArgument, SpanNotFound, TraceNotFound
from store.search import count_traces, search_trace_ids

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "0af7651916cd43dd8448eb211c80319c"
ROOT, TOOL = "0000000000000001", "0000000000000002"
T0 = 1_700_000_000_000_000_000


def _trace(db: Database, trace_id: str = TRACE) -> None:
    write_spans(
        db,
        [
            SpanIn(trace_id=trace_id, span_id=ROOT, name="agent", span_type="AGENT", start_ns=T0, end_ns=T0 + 10**9),
            SpanIn(trace_id=trace_id, span_id=TOOL, parent_span_id=ROOT, name="route", span_type="TOOL",
                   start_ns=T0 + 10**8, end_ns=T0 + 2 * 10**8),
        ],
    )  # fmt: skip


@pytest.fixture
def store(db: Database) -> Database:
    _trace(db)
    return db


def _rows(db: Database) -> int:
    return db.reader().execute("SELECT count(*) FROM assessments").fetchone()[0]


@pytest.mark.parametrize("value", [True, False, 0, 7, 0.5, 1.0, "yes", "", ["a", 1, None], {"score": 0.25, "tags": ["x"]}])
def test_a_logged_value_reads_back_with_its_type(store: Database, value: Any) -> None:
    record = get_assessment(store, log_assessment(store, new_assessment(TRACE, "v", value)))
    assert record.value == value and type(record.value) is type(value)


def test_a_logged_assessment_keeps_every_part(store: Database) -> None:
    findings = [{"span_id": TOOL.upper(), "category": "tool_selection_error", "evidence": "routed to tech", "impact": "HIGH"}]
    new = new_assessment(
        TRACE, " routing_accuracy ", 0.0, span_id=TOOL, source_type="llm_judge", source_id="router-judge",
        rationale="wrong agent", metadata={"iterations": 3, "cost": 0.01}, findings=findings,
    )  # fmt: skip
    assessment_id = log_assessment(store, new)
    assert assessment_id.startswith("a-") and len(assessment_id) == 34
    record = get_assessment(store, assessment_id)
    assert (record.trace_id, record.span_id, record.name, record.kind) == (TRACE, TOOL, "routing_accuracy", "feedback")
    assert (record.source_type, record.source_id, record.rationale) == ("LLM_JUDGE", "router-judge", "wrong agent")
    assert record.metadata == {"iterations": 3, "cost": 0.01}
    assert [f.model_dump() for f in record.findings] == [{**findings[0], "span_id": TOOL}]
    assert record.valid and record.overrides is None and record.overridden_by is None and record.created_ns > 0


def test_feedback_without_a_value_needs_an_error(store: Database) -> None:
    with pytest.raises(InvalidArgument, match="value is missing"):
        log_assessment(store, new_assessment(TRACE, "correctness", None))
    logged = log_assessment(store, new_assessment(TRACE, "correctness", None, error="model answered 'maybe' twice"))
    record = get_assessment(store, logged)
    assert record.value is None and record.error == "model answered 'maybe' twice"


def test_unknown_trace_and_span_are_refused_naming_the_fix(store: Database) -> None:
    with pytest.raises(TraceNotFound, match="SearchTraces"):
        log_assessment(store, new_assessment(OTHER, "correctness", "yes"))
    with pytest.raises(SpanNotFound, match="ListSpans"):
        log_assessment(store, new_assessment(TRACE, "correctness", "yes", span_id="00000000000000ff"))
    with pytest.raises(TraceNotFound):
        list_assessments(store, OTHER)
    with pytest.raises(AssessmentNotFound, match="ListAssessments"):
        get_assessment(store, "a-" + "0" * 32)
    assert _rows(store) == 0


def test_findings_on_spans_of_another_trace_are_refused_and_nothing_is_stored(store: Database) -> None:
    _trace(store, OTHER)
    write_spans(store, [SpanIn(trace_id=OTHER, span_id="00000000000000aa", name="x", start_ns=T0)])
    findings = [
        {"span_id": ROOT, "category": "c", "evidence": "e"},
        {"span_id": "00000000000000aa", "category": "c", "evidence": "e"},
    ]
    with pytest.raises(InvalidArgument, match="'00000000000000aa'.*ListSpans") as caught:
        log_assessment(store, new_assessment(TRACE, "trace_issues", "fail", findings=findings))
    assert repr(ROOT) not in str(caught.value)
    no_evidence = [{"span_id": ROOT, "category": "c"}]
    with pytest.raises(InvalidArgument, match=r"findings\[0\].*evidence"):
        log_assessment(store, new_assessment(TRACE, "trace_issues", "fail", findings=no_evidence))
    assert _rows(store) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rationale": "x" * (MAX_TEXT_CHARS + 1)}, "rationale is 20,001 characters; the limit is 20,000"),
        ({"error": "x" * (MAX_TEXT_CHARS + 1)}, "error is 20,001 characters"),
        ({"value": "v" * 20_000}, "value is 20,002 characters as JSON"),
        ({"value": float("nan")}, "NaN"),
        ({"value": {1: "a"}}, "not a string"),
        ({"value": object()}, "contains a object"),
        ({"metadata": {"blob": "m" * 20_000}}, "metadata is"),
        ({"metadata": ["not", "a", "dict"]}, "metadata must be an object"),
        ({"name": "   "}, "name must be a non-empty string"),
        ({"name": "n" * 201}, "the limit is 200"),
        ({"source_type": "ROBOT"}, "HUMAN, LLM_JUDGE, CODE"),
        ({"kind": "opinion"}, "kind 'opinion'"),
    ],
)
def test_invalid_parts_are_errors_and_store_nothing(store: Database, arguments: dict[str, Any], message: str) -> None:
    call: dict[str, Any] = {"name": "correctness", "value": "yes", **arguments}
    with pytest.raises(InvalidArgument, match=message):
        log_assessment(store, new_assessment(TRACE, call.pop("name"), call.pop("value"), **call))
    assert _rows(store) == 0


def test_a_value_nested_too_deep_is_refused(store: Database) -> None:
    value: Any = "leaf"
    for _ in range(40):
        value = [value]
    with pytest.raises(InvalidArgument, match="nested more than 32"):
        log_assessment(store, new_assessment(TRACE, "deep", value))


def test_override_keeps_the_old_assessment_invalid_and_links_both(store: Database) -> None:
    old = log_assessment(
        store, new_assessment(TRACE, "correctness", "no", span_id=TOOL, source_type="LLM_JUDGE", source_id="j")
    )
    new = override_assessment(store, old, "yes", rationale="checked by hand", source_id="alice")
    old_record, new_record = get_assessment(store, old), get_assessment(store, new)
    assert not old_record.valid and old_record.value == "no" and old_record.overridden_by == new
    assert new_record.valid and new_record.overrides == old and new_record.value == "yes"
    assert (new_record.trace_id, new_record.span_id, new_record.name, new_record.kind) == (TRACE, TOOL, "correctness", "feedback")
    assert (new_record.source_type, new_record.source_id, new_record.rationale) == ("HUMAN", "alice", "checked by hand")
    assert [r.assessment_id for r in list_assessments(store, TRACE)[0]] == [new]
    assert [r.assessment_id for r in list_assessments(store, TRACE, include_invalid=True)[0]] == [old, new]


def test_many_assessments_read_by_id_in_one_call_valid_or_not_leaving_unknown_ids_out(store: Database) -> None:
    old = log_assessment(store, new_assessment(TRACE, "correctness", "no", rationale="wrong specialist"))
    new = override_assessment(store, old, "yes", rationale="checked by hand")
    read = {r.assessment_id: r for r in get_assessments(store, [old, new, "a-" + "0" * 32])}
    assert set(read) == {old, new}
    assert (read[old].rationale, read[old].valid, read[new].rationale) == ("wrong specialist", False, "checked by hand")
    assert get_assessments(store, []) == []


def test_an_overridden_assessment_cannot_be_overridden_again(store: Database) -> None:
    old = log_assessment(store, new_assessment(TRACE, "correctness", "no"))
    new = override_assessment(store, old, "yes")
    with pytest.raises(InvalidArgument, match=f"already overridden by '{new}'; override that one instead"):
        override_assessment(store, old, "maybe")
    with pytest.raises(AssessmentNotFound):
        override_assessment(store, "a-" + "f" * 32, "yes")
    newest = override_assessment(store, new, "maybe")
    assert get_assessment(store, new).overridden_by == newest and _rows(store) == 3


def test_an_invalid_override_value_changes_nothing(store: Database) -> None:
    old = log_assessment(store, new_assessment(TRACE, "correctness", "no"))
    with pytest.raises(InvalidArgument, match="rationale"):
        override_assessment(store, old, "yes", rationale="x" * (MAX_TEXT_CHARS + 1))
    assert get_assessment(store, old).valid and _rows(store) == 1


def test_listing_filters_by_name_and_kind_and_pages_in_logged_order(store: Database) -> None:
    kinds = ["expectation" if i % 2 else "feedback" for i in range(10)]
    ids = [log_assessment(store, new_assessment(TRACE, f"n{i % 3}", i, kind=kinds[i])) for i in range(10)]
    records, total = list_assessments(store, TRACE, limit=4)
    assert total == 10 and [r.assessment_id for r in records] == ids[:4]
    last = records[-1]
    records, _ = list_assessments(store, TRACE, limit=100, after=(last.created_ns, last.assessment_id))
    assert [r.assessment_id for r in records] == ids[4:]
    assert list_assessments(store, TRACE, name="n1")[1] == 3
    assert [r.value for r in list_assessments(store, TRACE, kind="expectation")[0]] == [1, 3, 5, 7, 9]


def test_filters_and_the_trace_summary_see_only_valid_assessments(store: Database) -> None:
    _trace(store, OTHER)
    first = log_assessment(store, new_assessment(TRACE, "correctness", "no"))
    log_assessment(store, new_assessment(OTHER, "correctness", "yes"))
    log_assessment(store, new_assessment(TRACE, "routing_accuracy", 0.25))
    log_assessment(store, new_assessment(OTHER, "routing_accuracy", 1.0))
    assert search_trace_ids(store, "feedback.correctness = 'no'", None, 10) == [TRACE]
    assert search_trace_ids(store, "feedback.routing_accuracy < 0.5", None, 10) == [TRACE]
    override_assessment(store, first, "yes")
    assert count_traces(store, "feedback.correctness = 'no'") == 0
    assert count_traces(store, "feedback.correctness = 'yes'") == 2


# --- migration 002 -------------------------------------------------------------------------------


def test_migration_002_keeps_schema_1_assessments_and_indexes_their_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        patch.setattr(migrations, "SCHEMA_VERSION", 1)
        assert migrations.migrate(conn) == 1
    old, new = "a-" + "1" * 32, "a-" + "2" * 32
    conn.execute("INSERT INTO traces (trace_id, status) VALUES (?, 'OK')", (TRACE,))
    conn.executemany(
        "INSERT INTO assessments (assessment_id, trace_id, name, kind, source_type, value, valid, overrides, created_ns) "
        "VALUES (?, ?, 'correctness', 'feedback', 'HUMAN', ?, ?, ?, ?)",
        [(old, TRACE, '"no"', 0, None, 1), (new, TRACE, '"yes"', 1, old, 2)],
    )
    conn.close()

    db = Database(path)  # migrates to the current version
    try:
        conn = db.reader()
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == migrations.SCHEMA_VERSION
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'assessments'")}
        assert {"idx_assessments_overrides", "idx_assessments_trace_created", "idx_assessments_name_valid"} <= indexes
        assert "idx_assessments_trace_id" not in indexes
        assert get_assessment(db, old).overridden_by == new and get_assessment(db, new).value == "yes"
        assert [r.assessment_id for r in list_assessments(db, TRACE, include_invalid=True)[0]] == [old, new]
        with pytest.raises(sqlite3.IntegrityError), db.transaction() as writer:
            writer.execute(
                "INSERT INTO assessments (assessment_id, trace_id, name, kind, source_type, valid, overrides, created_ns) "
                "VALUES ('a-x', ?, 'correctness', 'feedback', 'HUMAN', 1, ?, 3)",
                (TRACE, old),
            )
    finally:
        db.close()


def test_listing_a_trace_seeks_its_assessments_in_order_and_their_overrides_by_index(store: Database) -> None:
    log_assessment(store, new_assessment(TRACE, "correctness", "no"))
    statements: list[str] = []
    store.set_tracer(statements.append)
    try:
        list_assessments(store, TRACE, name="correctness", after=(0, ""))
    finally:
        store.set_tracer(None)
    listing = next(s for s in statements if "ORDER BY" in s)
    plan = " | ".join(row[3] for row in store.reader().execute("EXPLAIN QUERY PLAN " + listing))
    assert "idx_assessments_trace_created" in plan and "idx_assessments_overrides" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
