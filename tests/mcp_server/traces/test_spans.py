"""ListSpans: the tree without content, filtered, paged to completion."""

from __future__ import annotations

from store import Database, write_spans
from tests.mcp_server.traces.builders import T0, TRACE_ID, call, call_error, make_span, small_trace, span_id


async def test_list_spans_shows_the_tree_with_offsets_depths_and_content_sizes(db: Database) -> None:
    small_trace(db)
    answer = await call(db, "ListSpans", trace_id=TRACE_ID)
    rows = [(s["name"], s["depth"], s["child_count"], s["start_offset_ms"]) for s in answer["spans"]]
    assert rows == [("support-agent", 0, 3, 0.0), ("ChatOpenAI", 1, 0, 100.0), ("lookup_invoice", 1, 0, 1000.0), ("refund", 1, 0, 1500.0)]
    assert answer["total_spans"] == 4 and answer["next_page_token"] is None
    assert answer["spans"][3]["status"] == "ERROR" and answer["spans"][1]["content_chars"] > 0
    assert "inputs" not in answer["spans"][0]


async def test_filters_keep_tree_order_and_real_depth(db: Database) -> None:
    small_trace(db)
    answer = await call(db, "ListSpans", trace_id=TRACE_ID, span_type="tool")
    assert [(s["name"], s["depth"]) for s in answer["spans"]] == [("lookup_invoice", 1), ("refund", 1)]
    answer = await call(db, "ListSpans", trace_id=TRACE_ID, name_pattern="(?i)^chat|fund$")
    assert [s["name"] for s in answer["spans"]] == ["ChatOpenAI", "refund"] and answer["total_matching"] == 2


async def test_bad_filters_are_errors_that_say_what_to_use(db: Database) -> None:
    small_trace(db)
    assert "TOOL" in await call_error(db, "ListSpans", trace_id=TRACE_ID, span_type="TOOLZ")
    assert "RE2" in await call_error(db, "ListSpans", trace_id=TRACE_ID, name_pattern="(?<=x)")
    assert "1 to 1,000" in await call_error(db, "ListSpans", trace_id=TRACE_ID, max_results=0)


async def test_orphans_are_listed_as_flagged_roots(db: Database) -> None:
    write_spans(db, [make_span(2, 1), make_span(3, 2)])
    answer = await call(db, "ListSpans", trace_id=TRACE_ID)
    assert [(s["span_id"], s["depth"], s["orphan"]) for s in answer["spans"]] == [(span_id(2), 0, True), (span_id(3), 1, False)]


async def test_paging_lists_every_span_once_in_tree_order(db: Database) -> None:
    write_spans(db, [make_span(1)] + [make_span(n, 1 if n < 40 else n - 38) for n in range(2, 250)])
    seen: list[str] = []
    answer = await call(db, "ListSpans", trace_id=TRACE_ID, max_results=37)
    while True:
        seen += [s["span_id"] for s in answer["spans"]]
        if answer["next_page_token"] is None:
            break
        assert "page_token=" in answer["notice"]
        answer = await call(db, "ListSpans", trace_id=TRACE_ID, max_results=37, page_token=answer["next_page_token"])
    assert len(seen) == len(set(seen)) == 249


async def test_unknown_trace_is_an_error_pointing_to_search_traces(db: Database) -> None:
    assert "SearchTraces" in await call_error(db, "ListSpans", trace_id="a" * 32)


async def test_spans_arriving_between_pages_are_never_listed_twice_and_no_old_span_is_skipped(db: Database) -> None:
    write_spans(db, [make_span(1)] + [make_span(n, 1) for n in range(2, 60)])
    seen: list[str] = []
    answer = await call(db, "ListSpans", trace_id=TRACE_ID, max_results=10)
    extra = 1000
    while True:
        seen += [s["span_id"] for s in answer["spans"]]
        if answer["next_page_token"] is None:
            break
        # New children of the root that start first (they sort before every page), and the
        # parent of an orphan-to-be: the tree read now differs from the first page's.
        extra += 1
        write_spans(db, [make_span(extra, 1, start_ns=T0 - extra), make_span(extra + 500, extra)])
        answer = await call(db, "ListSpans", trace_id=TRACE_ID, max_results=10, page_token=answer["next_page_token"])
    assert len(seen) == len(set(seen))
    assert set(seen) == {span_id(n) for n in range(1, 60)}
    assert "arrived after the first page" in (answer["notice"] or "")
    assert len((await call(db, "ListSpans", trace_id=TRACE_ID, max_results=1000))["spans"]) == 59 + 2 * (extra - 1000)
