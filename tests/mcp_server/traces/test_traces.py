"""GetTraceInfo, SearchTraces and CountTraces."""

from __future__ import annotations

from store import Database, write_spans
from tests.mcp_server.traces.builders import SECOND, T0, TRACE_ID, call, call_error, make_span, small_trace


async def test_get_trace_info_gives_the_overview(db: Database) -> None:
    small_trace(db)
    info = await call(db, "GetTraceInfo", trace_id="tr-" + TRACE_ID)
    assert info["trace_id"] == TRACE_ID and info["name"] == "support-agent" and info["status"] == "OK"
    assert info["duration_ms"] == 3000.0 and info["start_time"].startswith("2023-11-14T22:13:20")
    assert (info["span_count"], info["error_count"], info["total_tokens"]) == (4, 1, 120)
    assert info["tags"] == {"env": "prod"} and info["metadata"] == {"app_version": "1.2.3"}
    assert "charged twice" in info["request_preview"] and info["root_span_id"] == "0000000000000001"
    assert info["assessments"] == []


async def test_get_trace_info_bounds_huge_tags(db: Database) -> None:
    tags = {f"key{n:04}": "v" * 2000 for n in range(500)}
    write_spans(db, [make_span(1, trace_tags=tags, trace_metadata=tags)])
    info = await call(db, "GetTraceInfo", trace_id=TRACE_ID)
    assert len(str(info)) < 20_000 and 0 < len(info["tags"]) < 500
    assert any("tags" in notice for notice in info["notices"])


async def test_get_trace_info_with_an_unknown_id_says_how_to_find_ids(db: Database) -> None:
    assert "SearchTraces" in await call_error(db, "GetTraceInfo", trace_id="a" * 32)


async def test_search_traces_pages_through_every_trace(db: Database) -> None:
    ids = [f"{n:032x}" for n in range(1, 26)]
    write_spans(db, [make_span(1, trace_id=t, status_code="ERROR" if n % 5 == 0 else "OK") for n, t in enumerate(ids)])
    seen: list[str] = []
    page = await call(db, "SearchTraces", max_results=10)
    while True:
        seen += [t["trace_id"] for t in page["traces"]]
        if not page["next_page_token"]:
            break
        page = await call(db, "SearchTraces", max_results=10, page_token=page["next_page_token"])
    assert sorted(seen) == ids
    assert (await call(db, "CountTraces"))["count"] == 25
    errors = await call(db, "SearchTraces", filter_string="trace.status = 'ERROR'")
    assert len(errors["traces"]) == 5 == (await call(db, "CountTraces", filter_string="trace.status = 'ERROR'"))["count"]


async def test_a_bad_filter_is_an_error(db: Database) -> None:
    assert "filter" in (await call_error(db, "SearchTraces", filter_string="trace.status ==== 'x'")).lower()
    assert "filter" in (await call_error(db, "CountTraces", filter_string="nonsense")).lower()


async def test_traces_written_between_pages_never_repeat_or_shift_a_page(db: Database) -> None:
    write_spans(db, [make_span(1, trace_id=f"{n:032x}", start_ns=T0 + n * SECOND) for n in range(1, 21)])
    seen: list[str] = []
    page = await call(db, "SearchTraces", max_results=3)
    newer = 100
    while True:
        seen += [t["trace_id"] for t in page["traces"]]
        if not page["next_page_token"]:
            break
        # a newer trace (sorts before every page) and an older one (sorts after this page)
        newer += 1
        write_spans(db, [make_span(1, trace_id=f"{newer:032x}", start_ns=T0 + newer * SECOND),
                         make_span(1, trace_id=f"{newer + 500:032x}", start_ns=T0 - newer * SECOND)])  # fmt: skip
        page = await call(db, "SearchTraces", max_results=3, page_token=page["next_page_token"])
    assert len(seen) == len(set(seen))
    assert [f"{n:032x}" for n in range(20, 0, -1)] == [t for t in seen if int(t, 16) <= 20]
    assert any(int(t, 16) > 500 for t in seen)  # older traces written meanwhile come in later pages


async def test_a_damaged_search_traces_token_is_an_error_saying_how_to_start_again(db: Database) -> None:
    from mcp_server.tooling.paging import issue_token

    write_spans(db, [make_span(1, trace_id=f"{n:032x}") for n in range(1, 4)])
    arguments = {"filter_string": None, "order_by": None, "max_results": 1}
    for state in ({"after": ["x"], "shown": 1}, {"after": [2**70, "a"], "shown": 1}, {"after": "x", "shown": 1}):
        message = await call_error(db, "SearchTraces", max_results=1, page_token=issue_token("SearchTraces", arguments, state))
        assert "without page_token" in message
