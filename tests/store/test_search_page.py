"""store.search.search_trace_page: keyset pages in the same order as one big page, through NULLs,
ties, mixed directions, and writes between pages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Database, SpanIn, write_spans
from store.errors import InvalidArgument
from store.search import search_trace_ids, search_trace_page

T0 = 1_700_000_000_000_000_000


def _trace(n: int, *, name: str | None, start: int, session: str | None, tokens: int | None) -> SpanIn:
    return SpanIn(
        trace_id=f"{n:032x}",
        span_id="0000000000000001",
        parent_span_id=None if name is not None else "00000000000000ff",  # no root: the name stays NULL
        name=name or "child",
        start_ns=T0 + start * 1_000_000,
        end_ns=T0 + start * 1_000_000 + 10,
        session_id=session,
        total_tokens=tokens,
        span_type="LLM" if tokens is not None else "UNKNOWN",
    )


def _page_through(db: Database, order_by: list[str] | None, size: int) -> list[str]:
    seen: list[str] = []
    after: tuple[Any, ...] | None = None
    while True:
        rows = search_trace_page(db, None, order_by, size, after)
        seen += [trace_id for trace_id, _ in rows]
        if len(rows) < size:
            return seen
        after = rows[-1][1]


_orders = st.lists(
    st.tuples(st.sampled_from(["name", "timestamp_ms", "session_id", "total_tokens", "status"]), st.sampled_from(["ASC", "DESC"])),
    max_size=3,
    unique_by=lambda key: key[0],
).map(lambda keys: [f"{name} {direction}" for name, direction in keys] or None)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    traces=st.lists(
        st.tuples(st.sampled_from([None, "a", "b", "c"]), st.integers(0, 3), st.sampled_from([None, "s1", "s2"]), st.sampled_from([None, 5, 7])),
        min_size=1,
        max_size=25,
    ),
    order_by=_orders,
    size=st.integers(1, 7),
)
def test_pages_joined_are_the_whole_result_in_the_same_order(traces: list[tuple], order_by: list[str] | None, size: int) -> None:
    db = Database(":memory:")
    try:
        write_spans(db, [_trace(n, name=name, start=start, session=session, tokens=tokens) for n, (name, start, session, tokens) in enumerate(traces, 1)])
        whole = search_trace_ids(db, None, order_by, 1000)
        assert len(whole) == len(traces)
        assert _page_through(db, order_by, size) == whole
    finally:
        db.close()


def test_a_trace_written_between_pages_does_not_shift_the_next_page(db: Database) -> None:
    write_spans(db, [_trace(n, name=f"t{n}", start=n, session=None, tokens=None) for n in range(1, 5)])
    first = search_trace_page(db, None, None, 2, None)
    write_spans(db, [_trace(9, name="t9", start=9, session=None, tokens=None)])  # newer than every page
    second = search_trace_page(db, None, None, 2, first[-1][1])
    assert [t for t, _ in first + second] == [f"{n:032x}" for n in (4, 3, 2, 1)]


@pytest.mark.parametrize("after", [(), ("x",), (1, 2, 3), (True, "a"), ([1], "a")])
def test_a_position_that_does_not_fit_the_order_is_an_invalid_argument(db: Database, after: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidArgument, match="sort-key values"):
        search_trace_page(db, None, None, 10, after)
