"""store.traces: trace summaries by id, one or many."""

from __future__ import annotations

import pytest

from store import Database, SpanIn, write_spans
from store.errors import InvalidArgument, InvalidId, TraceNotFound
from store.traces import get_trace, get_traces, known_trace_ids, trace_exists

A = "a" * 32
B = "b" * 32


def _root(trace_id: str, **fields: object) -> SpanIn:
    return SpanIn(trace_id=trace_id, span_id="1" * 16, name="root", start_ns=10, end_ns=30, **fields)  # type: ignore[arg-type]


def test_get_trace_returns_totals_tags_metadata_and_an_empty_assessment_summary(db: Database) -> None:
    write_spans(
        db,
        [
            _root(A, inputs_json='"hi"', outputs_json='"bye"', trace_tags={"env": "prod"}, trace_metadata={"v": "1"}),
            SpanIn(trace_id=A, span_id="2" * 16, parent_span_id="1" * 16, name="llm", span_type="LLM",
                   start_ns=12, end_ns=40, status_code="ERROR", total_tokens=7),
        ],
    )  # fmt: skip
    record = get_trace(db, A)
    assert (record.name, record.status, record.root_span_id) == ("root", "OK", "1" * 16)
    assert (record.start_ns, record.end_ns, record.duration_ns) == (10, 40, 30)
    assert (record.span_count, record.error_count, record.total_tokens) == (2, 1, 7)
    assert (record.request_preview, record.response_preview) == ('"hi"', '"bye"')
    assert record.tags == {"env": "prod"} and record.metadata == {"v": "1"}
    assert record.assessments == []


def test_get_trace_counts_valid_assessments_by_name_and_kind(db: Database) -> None:
    write_spans(db, [_root(A)])
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO assessments (assessment_id, trace_id, name, kind, source_type, valid, created_ns) "
            "VALUES (?, ?, ?, ?, 'HUMAN', ?, 0)",
            [("x1", A, "correct", "feedback", 1), ("x2", A, "correct", "feedback", 1), ("x3", A, "correct", "feedback", 0),
             ("x4", A, "answer", "expectation", 1)],
        )  # fmt: skip
    counts = {(a.name, a.kind): a.count for a in get_trace(db, A).assessments}
    assert counts == {("correct", "feedback"): 2, ("answer", "expectation"): 1}


def test_get_trace_with_unknown_id_raises_trace_not_found_naming_it(db: Database) -> None:
    with pytest.raises(TraceNotFound, match=A):
        get_trace(db, A)
    assert not trace_exists(db, A)


def test_get_traces_keeps_the_requested_order_and_skips_unknown_ids(db: Database) -> None:
    write_spans(db, [_root(A, trace_tags={"k": "a"}), _root(B, trace_tags={"k": "b"})])
    records = get_traces(db, [B, "c" * 32, A, B])
    assert [(r.trace_id, r.tags["k"]) for r in records] == [(B, "b"), (A, "a")]
    assert get_traces(db, []) == []


def test_get_traces_runs_a_fixed_number_of_statements_for_many_traces(db: Database) -> None:
    ids = [f"{n:032x}" for n in range(1, 201)]
    write_spans(db, [_root(t) for t in ids])
    statements: list[str] = []
    db.set_tracer(statements.append)
    assert len(get_traces(db, ids)) == 200
    db.set_tracer(None)
    assert len([s for s in statements if s.startswith("SELECT")]) <= 4


def test_known_trace_ids_normalizes_drops_repeats_and_checks_all_in_one_statement(db: Database) -> None:
    ids = [f"{n:032x}" for n in range(1, 201)]
    write_spans(db, [_root(t) for t in ids])
    statements: list[str] = []
    db.set_tracer(statements.append)
    assert known_trace_ids(db, [ids[1].upper(), "tr-" + ids[0], *ids, ids[1]]) == [ids[1], ids[0], *ids[2:]]
    db.set_tracer(None)
    assert len([s for s in statements if s.startswith("SELECT")]) == 1
    assert known_trace_ids(db, []) == []


def test_known_trace_ids_refuses_a_malformed_id_then_too_many_then_the_first_unknown(db: Database) -> None:
    write_spans(db, [_root(A)])
    with pytest.raises(InvalidId, match="'nope'"):
        known_trace_ids(db, ["c" * 32, "nope"])
    with pytest.raises(InvalidArgument, match="^3 is too many$"):
        known_trace_ids(db, [A, "c" * 32, "d" * 32, A], limit=2, too_many=lambda n: f"{n} is too many")
    with pytest.raises(InvalidArgument, match="3 trace_ids; the limit is 2"):
        known_trace_ids(db, [A, "c" * 32, "d" * 32], limit=2)
    assert known_trace_ids(db, [A, A, A], limit=1) == [A]
    with pytest.raises(TraceNotFound, match="'c{32}'.*SearchTraces"):
        known_trace_ids(db, [A, "c" * 32, "d" * 32])
