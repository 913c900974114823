"""The feedback tools through the in-process MCP client: LogFeedback, LogExpectation, ListAssessments,
GetAssessment, OverrideAssessment, and what GetTraceInfo and SearchTraces see of them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from store import Database, write_spans
from tests.mcp_server.traces.builders import TRACE_ID, make_span, small_trace, span_id
from tests.support.mcp_session import Session, session

TOOLS = {"LogFeedback", "LogExpectation", "ListAssessments", "GetAssessment", "OverrideAssessment"}
WRITE_TOOLS = {"LogFeedback", "LogExpectation", "OverrideAssessment"}
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def traced(db: Database) -> Database:
    small_trace(db)
    write_spans(db, [make_span(1, trace_id=OTHER_TRACE, name="other-agent")])
    return db


async def test_tools_list_shows_the_feedback_tools_with_honest_annotations(db: Database) -> None:
    async with session(db) as s:
        listed = {tool.name: tool for tool in (await s.client.list_tools()).tools}
    assert TOOLS <= listed.keys()
    for name in TOOLS:
        tool = listed[name]
        hints = tool.annotations
        assert hints is not None and hints.destructive_hint is False and hints.open_world_hint is False
        if name in WRITE_TOOLS:
            assert hints.read_only_hint is False and hints.idempotent_hint is False
        else:
            assert hints.read_only_hint is True and hints.idempotent_hint is True
        assert "Example:" in (tool.description or "") and tool.output_schema is not None
        for parameter, schema in tool.input_schema["properties"].items():
            # page_token alone goes undescribed: the server instructions explain paging once.
            assert schema.get("description") or parameter == "page_token", f"{name}.{parameter} has no description"


async def test_log_feedback_returns_an_id_that_get_assessment_reads_back_in_full(traced: Database) -> None:
    async with session(traced) as s:
        logged = await s.call(
            "LogFeedback", trace_id="tr-" + TRACE_ID.upper(), name="correctness", value="no",
            rationale="The refund failed (span 4) but the answer says it was issued.",
            source_type="LLM_JUDGE", source_id="correctness-judge", metadata={"iterations": 4, "cost_usd": 0.002},
        )  # fmt: skip
        assessment_id = logged["assessment_id"]
        assert assessment_id.startswith("a-") and len(assessment_id) == 34
        assert logged["assessment"]["trace_id"] == TRACE_ID and logged["assessment"]["valid"] is True
        full = await s.call("GetAssessment", assessment_id=assessment_id)
    assert full["name"] == "correctness" and full["kind"] == "feedback" and full["value"] == "no"
    assert (full["source_type"], full["source_id"]) == ("LLM_JUDGE", "correctness-judge")
    assert full["metadata"] == {"iterations": 4, "cost_usd": 0.002} and full["span_id"] is None
    assert full["rationale"].startswith("The refund failed") and full["created_time"].endswith("+00:00")


@pytest.mark.parametrize("value", [True, False, 0, 3, 0.5, 1.0, "yes", "1", ["a", 2, 0.5], {"score": 1.0, "ok": True}])
async def test_values_keep_their_json_type_through_the_tools(traced: Database, value: Any) -> None:
    async with session(traced) as s:
        logged = await s.call("LogFeedback", trace_id=TRACE_ID, name="v", value=value)
        full = await s.call("GetAssessment", assessment_id=logged["assessment_id"])
        listed = await s.call("ListAssessments", trace_id=TRACE_ID)
    for shown in (full["value"], listed["assessments"][0]["value"], logged["assessment"]["value"]):
        assert shown == value and type(shown) is type(value)


async def test_span_level_feedback_with_findings(traced: Database) -> None:
    refund = span_id(4)
    findings = [
        {"span_id": refund, "category": "tool_execution_error", "evidence": "HTTP 429: rate limit exceeded", "impact": "HIGH"},
        {"span_id": span_id(1).upper(), "category": "hallucination", "evidence": "says 'You were refunded.'"},
    ]
    async with session(traced) as s:
        logged = await s.call(
            "LogFeedback", trace_id=TRACE_ID, name="trace_issues", value="fail", span_id=refund, findings=findings
        )
        full = await s.call("GetAssessment", assessment_id=logged["assessment_id"])
        listed = await s.call("ListAssessments", trace_id=TRACE_ID)
    assert full["span_id"] == refund and logged["assessment"]["span_id"] == refund
    assert full["findings"] == [findings[0], {**findings[1], "span_id": span_id(1), "impact": None}]
    assert listed["assessments"][0]["finding_count"] == 2 and listed["assessments"][0]["span_id"] == refund


async def test_unknown_ids_are_tool_errors_that_name_the_fix(traced: Database) -> None:
    async with session(traced) as s:
        assert "SearchTraces" in await s.error("LogFeedback", trace_id="f" * 32, name="correctness", value="yes")
        assert "SearchTraces" in await s.error("LogExpectation", trace_id="f" * 32, name="answer", value="x")
        assert "SearchTraces" in await s.error("ListAssessments", trace_id="f" * 32)
        message = await s.error("LogFeedback", trace_id=TRACE_ID, name="c", value="yes", span_id="00000000000000ff")
        assert "'00000000000000ff'" in message and f"ListSpans(trace_id='{TRACE_ID}')" in message
        missing = "a-" + "0" * 32
        for tool, arguments in (("GetAssessment", {}), ("OverrideAssessment", {"value": "yes"})):
            message = await s.error(tool, assessment_id=missing, **arguments)
            assert missing in message and "ListAssessments" in message
        assert "hex" in await s.error("LogFeedback", trace_id="not-an-id", name="c", value="yes")


async def test_findings_on_unknown_spans_are_rejected_and_nothing_is_stored(traced: Database) -> None:
    findings = [{"span_id": "00000000000000ee", "category": "c", "evidence": "e"}]
    async with session(traced) as s:
        message = await s.error("LogFeedback", trace_id=TRACE_ID, name="trace_issues", value="fail", findings=findings)
        assert "'00000000000000ee'" in message and "ListSpans" in message
        assert (await s.call("ListAssessments", trace_id=TRACE_ID))["total_matching"] == 0


async def test_an_oversized_rationale_is_an_error_and_stores_nothing(traced: Database) -> None:
    async with session(traced) as s:
        message = await s.error("LogFeedback", trace_id=TRACE_ID, name="c", value="yes", rationale="x" * 20_001)
        assert "20,001" in message and "20,000" in message and "nothing was stored" in message
        assert (await s.call("ListAssessments", trace_id=TRACE_ID, include_invalid=True))["total_matching"] == 0
        assert (await s.call("GetTraceInfo", trace_id=TRACE_ID))["assessments"] == []


async def test_override_keeps_the_old_assessment_invalid_and_linked(traced: Database) -> None:
    async with session(traced) as s:
        old = (await s.call("LogFeedback", trace_id=TRACE_ID, name="correctness", value="no", source_type="LLM_JUDGE"))[
            "assessment_id"
        ]
        result = await s.call("OverrideAssessment", assessment_id=old, value="yes", rationale="verified", source_id="alice")
        new = result["assessment_id"]
        assert result["assessment"]["overrides"] == old and result["assessment"]["valid"] is True
        assert result["overridden"]["overridden_by"] == new and result["overridden"]["valid"] is False
        old_full = await s.call("GetAssessment", assessment_id=old)
        assert old_full["valid"] is False and old_full["value"] == "no" and old_full["overridden_by"] == new
        new_full = await s.call("GetAssessment", assessment_id=new)
        assert (new_full["name"], new_full["source_type"], new_full["source_id"]) == ("correctness", "HUMAN", "alice")
        assert [a["assessment_id"] for a in (await s.call("ListAssessments", trace_id=TRACE_ID))["assessments"]] == [new]
        history = await s.call("ListAssessments", trace_id=TRACE_ID, include_invalid=True)
        assert [(a["assessment_id"], a["valid"]) for a in history["assessments"]] == [(old, False), (new, True)]
        again = await s.error("OverrideAssessment", assessment_id=old, value="maybe")
        assert f"already overridden by '{new}'" in again
        info = await s.call("GetTraceInfo", trace_id=TRACE_ID)
    assert info["assessments"] == [{"name": "correctness", "kind": "feedback", "count": 1}]


async def test_list_assessments_pages_to_completion(traced: Database) -> None:
    async with session(traced) as s:
        logged = [
            (await s.call("LogFeedback", trace_id=TRACE_ID, name=f"judge{n % 2}", value=n))["assessment_id"]
            for n in range(23)
        ]
        seen: list[str] = []
        page = await s.call("ListAssessments", trace_id=TRACE_ID, max_results=5)
        while True:
            assert page["total_matching"] == 23 and len(page["assessments"]) <= 5
            seen += [a["assessment_id"] for a in page["assessments"]]
            if not page["next_page_token"]:
                break
            assert page["next_page_token"] in page["notice"]
            page = await s.call("ListAssessments", trace_id=TRACE_ID, max_results=5, page_token=page["next_page_token"])
        assert seen == logged
        first = await s.call("ListAssessments", trace_id=TRACE_ID, max_results=5)
        message = await s.error("ListAssessments", trace_id=TRACE_ID, max_results=6, page_token=first["next_page_token"])
        assert "other arguments" in message
        assert "max_results" in await s.error("ListAssessments", trace_id=TRACE_ID, max_results=0)
        judge1 = await s.call("ListAssessments", trace_id=TRACE_ID, name="judge1", max_results=200)
    assert [a["value"] for a in judge1["assessments"]] == list(range(1, 23, 2))


async def test_a_page_of_long_assessments_stays_within_its_budget(traced: Database) -> None:
    async with session(traced) as s:
        for _ in range(60):
            await s.call(
                "LogFeedback", trace_id=TRACE_ID, name="essay", value={"text": "v" * 9_000},
                rationale="r" * 20_000, metadata={"m": "m" * 9_000},
            )  # fmt: skip
        page = await s.call("ListAssessments", trace_id=TRACE_ID, max_results=200)
        one = await s.call("GetAssessment", assessment_id=page["assessments"][0]["assessment_id"])
    assert len(json.dumps(page, ensure_ascii=False, separators=(",", ":"))) <= 40_000
    assert 0 < len(page["assessments"]) < 60 and page["next_page_token"]
    first = page["assessments"][0]
    assert first["value"] is None and first["value_preview"].startswith('{"text":"vvv') and first["cut"] == ["value", "rationale"]
    assert one["rationale"] == "r" * 20_000 and one["value"] == {"text": "v" * 9_000}


async def test_log_expectation_is_listed_as_an_expectation_and_searchable(traced: Database) -> None:
    async with session(traced) as s:
        await s.call("LogExpectation", trace_id=TRACE_ID, name="expected_facts", value=["refund issued"])
        await s.call("LogFeedback", trace_id=TRACE_ID, name="correctness", value="no")
        expectations = await s.call("ListAssessments", trace_id=TRACE_ID, kind="expectation")
        found = await s.call("SearchTraces", filter_string="expectation.expected_facts IS NOT NULL")
        feedback_of_that_name = await s.call("SearchTraces", filter_string="feedback.expected_facts IS NOT NULL")
    assert [(a["name"], a["kind"]) for a in expectations["assessments"]] == [("expected_facts", "expectation")]
    assert [t["trace_id"] for t in found["traces"]] == [TRACE_ID] and feedback_of_that_name["traces"] == []


async def test_search_traces_and_get_trace_info_see_logged_feedback_and_not_overridden_feedback(traced: Database) -> None:
    async def matching(s: Session, filter_string: str) -> list[str]:
        return [t["trace_id"] for t in (await s.call("SearchTraces", filter_string=filter_string))["traces"]]

    async with session(traced) as s:
        wrong = (await s.call("LogFeedback", trace_id=TRACE_ID, name="correctness", value="no"))["assessment_id"]
        await s.call("LogFeedback", trace_id=OTHER_TRACE, name="correctness", value="yes")
        await s.call("LogFeedback", trace_id=TRACE_ID, name="routing_accuracy", value=0.25, span_id=span_id(3))
        await s.call("LogFeedback", trace_id=TRACE_ID, name="routing_accuracy", value=0.0, source_type="LLM_JUDGE")
        await s.call("LogFeedback", trace_id=OTHER_TRACE, name="routing_accuracy", value=1.0)

        assert await matching(s, "feedback.correctness = 'no'") == [TRACE_ID]
        assert await matching(s, "feedback.routing_accuracy < 0.5") == [TRACE_ID]
        assert sorted(await matching(s, "feedback.routing_accuracy >= 0.0")) == sorted([TRACE_ID, OTHER_TRACE])
        info = await s.call("GetTraceInfo", trace_id=TRACE_ID)
        assert info["assessments"] == [
            {"name": "correctness", "kind": "feedback", "count": 1},
            {"name": "routing_accuracy", "kind": "feedback", "count": 2},
        ]

        await s.call("OverrideAssessment", assessment_id=wrong, value="yes", source_id="reviewer")
        assert await matching(s, "feedback.correctness = 'no'") == []
        assert sorted(await matching(s, "feedback.correctness = 'yes'")) == sorted([TRACE_ID, OTHER_TRACE])
        assert (await s.call("CountTraces", filter_string="feedback.correctness = 'no'"))["count"] == 0
        info = await s.call("GetTraceInfo", trace_id=TRACE_ID)
    assert {"name": "correctness", "kind": "feedback", "count": 1} in info["assessments"]
