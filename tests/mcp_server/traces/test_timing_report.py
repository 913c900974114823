"""GetSpanTimingReport: self time, critical path, slowest spans, time by type, concurrency."""

from __future__ import annotations

import json

from store import Database, write_spans
from tests.mcp_server.traces.builders import SECOND, T0, TRACE_ID, call, call_error, make_span, small_trace, span_id


async def test_report_on_a_small_trace(db: Database) -> None:
    small_trace(db)
    report = await call(db, "GetSpanTimingReport", trace_id=TRACE_ID)
    assert report["trace_duration_ms"] == 3000.0 and report["span_count"] == 4
    assert [s["span_id"] for s in report["critical_path"]] == [span_id(1), span_id(4)]
    # children cover 0.1 s .. 2.5 s of the agent's 3 s
    agent = next(s for s in report["slowest_by_self_time"] if s["span_id"] == span_id(1))
    assert agent["self_time_ms"] == 600.0
    assert {t["span_type"]: t["self_time_ms"] for t in report["time_by_span_type"]} == {
        "AGENT": 600.0, "CHAT_MODEL": 900.0, "TOOL": 2000.0,
    }  # fmt: skip
    (fan_out,) = report["concurrent_siblings"]
    assert fan_out["parent_span_id"] == span_id(1) and fan_out["max_concurrency"] == 2 and fan_out["overlap_ms"] == 500.0
    assert set(fan_out["example_span_ids"]) == {span_id(3), span_id(4)}


async def test_a_wide_deep_trace_stays_under_the_cap(db: Database) -> None:
    spans = [make_span(1, start_ns=T0, end_ns=T0 + 100 * SECOND, name="x" * 500)]
    spans += [make_span(n, n - 1, start_ns=T0 + n, end_ns=T0 + 50 * SECOND - n, name="y" * 500) for n in range(2, 400)]
    spans += [make_span(n, 1, start_ns=T0 + n, end_ns=T0 + SECOND + n, name="z" * 500) for n in range(400, 2000)]
    write_spans(db, spans)
    report = await call(db, "GetSpanTimingReport", trace_id=TRACE_ID, max_results=100)
    assert len(json.dumps(report, ensure_ascii=False, separators=(",", ":"))) <= 40_000
    assert report["critical_path_length"] == 399 and report["critical_path_omitted"] > 0
    assert any("critical path" in notice for notice in report["notices"])


async def test_unknown_trace_and_bad_max_results_are_errors(db: Database) -> None:
    small_trace(db)
    assert "SearchTraces" in await call_error(db, "GetSpanTimingReport", trace_id="a" * 32)
    assert "1 to 100" in await call_error(db, "GetSpanTimingReport", trace_id=TRACE_ID, max_results=1000)
