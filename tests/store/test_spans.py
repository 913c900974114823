"""store.spans: the skeleton in tree order, one span, the root, chunked text, timing rows."""

from __future__ import annotations

import pytest

from store import Database, SpanIn, write_spans
from store.errors import RootSpanNotFound, SpanNotFound, TraceNotFound
from store.records import SEARCHED_FIELDS
from store.spans import count_spans_after, get_root_span, get_span, iter_span_texts, list_span_timings, list_span_tree

T = "c" * 32


def _span(n: int, parent: int | None, start: int, **fields: object) -> SpanIn:
    return SpanIn(
        trace_id=T,
        span_id=f"{n:016x}",
        parent_span_id=f"{parent:016x}" if parent is not None else None,
        name=f"s{n}",
        start_ns=start,
        end_ns=start + 5,
        **fields,  # type: ignore[arg-type]
    )


def test_tree_is_depth_first_with_children_by_start_time_whatever_the_arrival_order(db: Database) -> None:
    # root 1 -> (2 at t=20 -> 4), (3 at t=10); written children first.
    write_spans(db, [_span(4, 2, 25), _span(2, 1, 20), _span(3, 1, 10)])
    write_spans(db, [_span(1, None, 0)])
    tree = list_span_tree(db, T)
    assert [(n.name, n.depth, n.child_count, n.orphan) for n in tree] == [
        ("s1", 0, 2, False),
        ("s3", 1, 0, False),
        ("s2", 1, 1, False),
        ("s4", 2, 0, False),
    ]


def test_spans_whose_parent_has_not_arrived_are_roots_flagged_orphan(db: Database) -> None:
    write_spans(db, [_span(2, 1, 20), _span(3, 2, 30), _span(5, 9, 5)])
    tree = list_span_tree(db, T)
    assert [(n.name, n.depth, n.orphan) for n in tree] == [("s5", 0, True), ("s2", 0, True), ("s3", 1, False)]


def test_a_parent_cycle_is_still_listed_once_per_span(db: Database) -> None:
    write_spans(db, [_span(1, 2, 0), _span(2, 1, 1), _span(3, 3, 2)])
    tree = list_span_tree(db, T)
    assert sorted(n.name for n in tree) == ["s1", "s2", "s3"]
    assert [n.orphan for n in tree if n.depth == 0] == [True, True]


def test_the_skeleton_has_no_content_but_counts_it(db: Database) -> None:
    write_spans(db, [_span(1, None, 0, inputs_json='"' + "x" * 1000 + '"')])
    (node,) = list_span_tree(db, T)
    assert node.content_chars == 1002
    assert not any(isinstance(value, str) and "xxx" in value for value in node)


def test_unknown_trace_raises_trace_not_found_everywhere(db: Database) -> None:
    for read in (list_span_tree, list_span_timings, iter_span_texts, get_root_span):
        with pytest.raises(TraceNotFound):
            read(db, T)
    with pytest.raises(TraceNotFound):
        get_span(db, T, "1" * 16)


def test_get_span_returns_the_full_row_and_names_both_ids_when_missing(db: Database) -> None:
    write_spans(db, [_span(1, None, 0, inputs_json='{"a":1}', attributes={"k": "v"}, events=[{"name": "e"}])])
    span = get_span(db, T, f"{1:016x}")
    assert (span.inputs_json, span.attributes_json, span.events_json) == ('{"a":1}', '{"k":"v"}', '[{"name":"e"}]')
    with pytest.raises(SpanNotFound) as raised:
        get_span(db, T, "f" * 16)
    assert "f" * 16 in str(raised.value) and T in str(raised.value) and "ListSpans" in str(raised.value)


def test_get_root_span_explains_a_root_that_has_not_arrived(db: Database) -> None:
    write_spans(db, [_span(2, 1, 0)])
    with pytest.raises(RootSpanNotFound, match="has not arrived"):
        get_root_span(db, T)
    write_spans(db, [_span(1, None, 0)])
    assert get_root_span(db, T).span_id == f"{1:016x}"


def test_span_texts_come_in_chunks_as_stored_bytes(db: Database) -> None:
    write_spans(db, [_span(n, None, n, outputs_json=f'"é{n}"') for n in range(1, 11)])
    statements: list[str] = []
    db.set_tracer(statements.append)
    texts = list(iter_span_texts(db, T, chunk_spans=3))
    db.set_tracer(None)
    assert [t.span_id for t in texts] == [f"{n:016x}" for n in range(1, 11)]
    outputs = SEARCHED_FIELDS.index("outputs")
    assert texts[0].texts[outputs] == '"é1"'.encode()
    assert texts[0].texts[SEARCHED_FIELDS.index("name")] == b"s1"
    assert len([s for s in statements if s.startswith("SELECT")]) == 1 + 4  # the id list, then ceil(10 / 3) chunks


def test_timing_rows_carry_ids_parent_type_and_times(db: Database) -> None:
    write_spans(db, [_span(1, None, 0, span_type="AGENT"), _span(2, 1, 3, span_type="TOOL")])
    rows = sorted(list_span_timings(db, T))
    assert rows[1] == (f"{2:016x}", f"{1:016x}", "s2", "TOOL", 3, 8)


def test_the_tree_up_to_a_row_is_the_tree_as_it_was_when_that_row_was_the_last(db: Database) -> None:
    write_spans(db, [_span(1, None, 0), _span(2, 1, 10)])
    before = list_span_tree(db, T)
    last = max(node.row_id for node in before)
    write_spans(db, [_span(3, 1, 5), _span(4, 9, 1)])
    assert list_span_tree(db, T, up_to_row=last) == before
    assert count_spans_after(db, T, last) == 2 and len(list_span_tree(db, T)) == 4
