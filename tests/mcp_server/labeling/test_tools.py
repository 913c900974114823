"""The labeling tools through the in-process MCP client, on the demo's traces."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from mcp_server.demo.load import load_demo
from mcp_server.labeling import queue
from store import Database
from store import assessments as assessment_store
from store import labeling as labeling_store
from store.search import search_trace_ids
from tests.support.mcp_session import Session, session

DEPARTMENTS = {"kind": "categorical", "options": ["billing", "technical", "sales"]}
LABELING_TOOLS = (
    "CreateLabelingSchema", "ListLabelingSchemas", "CreateLabelingSession", "ListLabelingSessions",
    "AddTracesToLabelingSession", "ListLabelingItems", "SubmitLabel", "SkipLabelingItem",
)


@pytest.fixture
def trace_ids(db: Database) -> list[str]:
    """The demo's ten traces, oldest first."""
    load_demo(db)
    return search_trace_ids(db, None, ["timestamp_ms"], 100)


async def _review(s: Session, trace_ids: list[str], **session_args: Any) -> dict[str, Any]:
    """Two schemas (routing_correct: pass/fail feedback with comments; department: categorical
    expectation) and a session 'review' holding the first three traces."""
    await s.call("CreateLabelingSchema", name="routing_correct", type="feedback", input={"kind": "pass_fail"},
                 instructions="Was the customer sent to the right specialist?", enable_comment=True)
    await s.call("CreateLabelingSchema", name="department", type="expectation", input=DEPARTMENTS)
    created = await s.call("CreateLabelingSession", name="review", schemas=["routing_correct", "department"],
                           **session_args)
    await s.call("AddTracesToLabelingSession", session="review", trace_ids=trace_ids[:3])
    return created


async def test_tools_are_listed_with_descriptions_examples_and_honest_annotations(db: Database) -> None:
    async with session(db) as s:
        listed = {t.name: t for t in (await s.client.list_tools()).tools}
    for name in LABELING_TOOLS:
        assert "Example: " + name + "(" in listed[name].description
    for name in ("ListLabelingSchemas", "ListLabelingSessions", "ListLabelingItems"):
        assert listed[name].annotations.read_only_hint
    for name in ("CreateLabelingSchema", "CreateLabelingSession", "AddTracesToLabelingSession", "SubmitLabel"):
        assert not listed[name].annotations.read_only_hint
    assert "pre-fill" in listed["SubmitLabel"].description
    assert set(listed["CreateLabelingSchema"].input_schema["properties"]) >= {"name", "type", "input", "overwrite"}


async def test_each_input_kind_is_stored_and_described_and_bad_ones_are_refused(db: Database) -> None:
    async with session(db) as s:
        kinds = {
            "ok": {"kind": "pass_fail"},
            "dept": DEPARTMENTS,
            "topics": {"kind": "categorical", "options": ["bill", "plan", "device"], "multiple": True},
            "stars": {"kind": "numeric", "minimum": 1, "maximum": 5},
            "answer": {"kind": "text", "max_length": 20},
        }
        for name, kind in kinds.items():
            await s.call("CreateLabelingSchema", name=name, type="feedback", input=kind)
        listed = await s.call("ListLabelingSchemas")
        by_name = {schema["name"]: schema for schema in listed["schemas"]}
        assert listed["total"] == 5 and [schema["name"] for schema in listed["schemas"]] == sorted(kinds)
        assert by_name["stars"]["input"] == {"kind": "numeric", "minimum": 1, "maximum": 5}
        assert by_name["stars"]["expects"] == "a number from 1 to 5"
        assert by_name["dept"]["expects"] == "one of 'billing', 'technical', 'sales'"
        assert "at most 20 characters" in by_name["answer"]["expects"]
        assert "options" in await s.error("CreateLabelingSchema", name="x", type="feedback", input={"kind": "categorical"})
        assert "distinct" in await s.error(
            "CreateLabelingSchema", name="x", type="feedback", input={"kind": "categorical", "options": ["a", "A"]}
        )
        assert "exceeds maximum" in await s.error(
            "CreateLabelingSchema", name="x", type="feedback", input={"kind": "numeric", "minimum": 5, "maximum": 1}
        )
        unknown_kind = await s.error("CreateLabelingSchema", name="x", type="feedback", input={"kind": "range"})
        assert "'pass_fail', 'categorical', 'numeric', 'text'" in unknown_kind
        assert "must start with a letter" in await s.error(
            "CreateLabelingSchema", name="routing correct?", type="feedback", input={"kind": "pass_fail"}
        )


async def test_a_schema_is_replaced_only_with_overwrite(db: Database) -> None:
    async with session(db) as s:
        await s.call("CreateLabelingSchema", name="dept", type="feedback", input=DEPARTMENTS)
        exists = await s.error("CreateLabelingSchema", name="dept", type="feedback", input={"kind": "text"})
        assert "exists" in exists and "overwrite=true" in exists
        replaced = await s.call(
            "CreateLabelingSchema", name="dept", type="expectation", input={"kind": "text"}, overwrite=True
        )
        assert (replaced["type"], replaced["input"]["kind"]) == ("expectation", "text")
        assert (await s.call("ListLabelingSchemas"))["total"] == 1


async def test_values_are_checked_against_the_schema_and_normalized(db: Database, trace_ids: list[str]) -> None:
    async with session(db) as s:
        await s.call("CreateLabelingSchema", name="ok", type="feedback", input={"kind": "pass_fail"})
        await s.call("CreateLabelingSchema", name="dept", type="feedback", input=DEPARTMENTS)
        await s.call("CreateLabelingSchema", name="topics", type="feedback",
                     input={"kind": "categorical", "options": ["bill", "plan", "device"], "multiple": True})
        await s.call("CreateLabelingSchema", name="stars", type="feedback",
                     input={"kind": "numeric", "minimum": 1, "maximum": 5})
        await s.call("CreateLabelingSchema", name="answer", type="feedback", input={"kind": "text", "max_length": 20})
        await s.call("CreateLabelingSession", name="kinds", schemas=["ok", "dept", "topics", "stars", "answer"])
        await s.call("AddTracesToLabelingSession", session="kinds", trace_ids=trace_ids[:1])

        async def stored(schema: str, value: Any) -> Any:
            result = await s.call("SubmitLabel", session="kinds", trace_id=trace_ids[0], schema=schema, value=value,
                                  labeler="alice")
            return result["value"]

        async def refused(schema: str, value: Any) -> str:
            return await s.error("SubmitLabel", session="kinds", trace_id=trace_ids[0], schema=schema, value=value,
                                 labeler="alice")

        assert [await stored("ok", v) for v in ("Pass", "fail", "YES", "no", True)] == [True, False, True, False, True]
        assert "true or false (also 'pass'/'fail' or 'yes'/'no')" in await refused("ok", "maybe")
        assert "true or false" in await refused("ok", 1)
        assert await stored("dept", "Billing") == "billing"
        assert "one of 'billing', 'technical', 'sales'; got 'marketing'" in await refused("dept", "marketing")
        assert await stored("topics", ["device", "bill", "device"]) == ["bill", "device"]
        assert await stored("topics", "plan") == ["plan"]
        assert "one or more of" in await refused("topics", [])
        assert await stored("stars", 4) == 4 and await stored("stars", "2.5") == 2.5
        out_of_range = await refused("stars", 7)
        assert "7 is out of range: expected a number from 1 to 5" in out_of_range and "Nothing was stored" in out_of_range
        assert "a number" in await refused("stars", "lots")
        assert await stored("answer", "billing dept") == "billing dept"
        assert "21 characters" in await refused("answer", "x" * 21)
        assert "non-blank" in await refused("answer", "  ")
        no_comments = await s.error("SubmitLabel", session="kinds", trace_id=trace_ids[0], schema="ok", value=True,
                                    labeler="alice", comment="looks fine")
        assert "enable_comment" in no_comments


async def test_the_queue_keeps_the_order_traces_were_added_and_pages_through_it(
    db: Database, trace_ids: list[str]
) -> None:
    async with session(db) as s:
        await _review(s, trace_ids)
        again = await s.call("AddTracesToLabelingSession", session="review", trace_ids=[trace_ids[1], trace_ids[1].upper()])
        assert (again["added"], again["already_queued"]) == (0, 2)
        by_filter = await s.call("AddTracesToLabelingSession", session="review", filter_string="trace.status != 'IN_PROGRESS'")
        assert (by_filter["added"], by_filter["already_queued"]) == (7, 3)
        assert by_filter["status_counts"]["pending"] == 10
        newest_first = search_trace_ids(db, None, None, 100)
        expected = trace_ids[:3] + [t for t in newest_first if t not in trace_ids[:3]]

        seen: list[dict[str, Any]] = []
        page = await s.call("ListLabelingItems", session="review", max_results=4)
        assert "items 1 to 4 of 10" in page["notice"]
        while True:
            seen += page["items"]
            if page["next_page_token"] is None:
                break
            page = await s.call("ListLabelingItems", session="review", max_results=4, page_token=page["next_page_token"])
        assert [item["trace_id"] for item in seen] == expected
        assert [item["position"] for item in seen] == list(range(10))
        first = seen[0]
        assert first["status"] == "pending" and first["missing_schemas"] == ["routing_correct", "department"]
        assert first["trace_name"] and first["request_preview"] and first["labels"] == []
        assert [schema["name"] for schema in page["schemas"]] == ["routing_correct", "department"]

        token = (await s.call("ListLabelingItems", session="review", max_results=4))["next_page_token"]
        assert "other arguments" in await s.error("ListLabelingItems", session="review", max_results=5, page_token=token)


async def test_adding_unknown_traces_lists_them_and_adds_nothing(db: Database, trace_ids: list[str]) -> None:
    async with session(db) as s:
        await _review(s, trace_ids)
        missing = ["0" * 32, "f" * 32]
        error = await s.error("AddTracesToLabelingSession", session="review", trace_ids=[trace_ids[5], *missing])
        assert all(repr(t) in error for t in missing) and "nothing was added" in error and repr(trace_ids[5]) not in error
        assert (await s.call("ListLabelingItems", session="review"))["total_matching"] == 3
        both = await s.error("AddTracesToLabelingSession", session="review", trace_ids=trace_ids[:1],
                             filter_string="trace.status = 'OK'")
        assert "either trace_ids" in both
        assert "ListLabelingSessions" in await s.error("AddTracesToLabelingSession", session="nope", trace_ids=trace_ids[:1])
        assert "'nope'" in await s.error("CreateLabelingSession", name="x", schemas=["routing_correct", "nope"])


async def test_an_item_is_completed_once_every_schema_has_a_label_and_can_be_skipped(
    db: Database, trace_ids: list[str]
) -> None:
    async with session(db) as s:
        await _review(s, trace_ids)
        first = await s.call("SubmitLabel", session="review", trace_id=trace_ids[0], schema="routing_correct",
                             value="fail", labeler="alice", comment="A billing question went to tech support.")
        assert (first["item_status"], first["missing_schemas"]) == ("pending", ["department"])
        assert first["next_pending_trace_id"] == trace_ids[1]
        done = await s.call("SubmitLabel", session="review", trace_id=trace_ids[0], schema="department",
                            value="billing", labeler="bob")
        assert (done["item_status"], done["missing_schemas"], done["kind"]) == ("completed", [], "expectation")

        skipped = await s.call("SkipLabelingItem", session="review", trace_id=trace_ids[1], labeler="bob")
        assert (skipped["status"], skipped["assignee"]) == ("skipped", "bob")
        sessions = await s.call("ListLabelingSessions")
        assert sessions["sessions"][0]["status_counts"] == {"pending": 1, "completed": 1, "skipped": 1}
        pending = await s.call("ListLabelingItems", session="review", status="pending")
        assert [item["trace_id"] for item in pending["items"]] == [trace_ids[2]]
        completed = (await s.call("ListLabelingItems", session="review", status="completed"))["items"][0]
        assert [(label["schema_name"], label["labeler"], label["value"]) for label in completed["labels"]] == [
            ("routing_correct", "alice", False), ("department", "bob", "billing")
        ]
        assert completed["labels"][0]["comment"] == "A billing question went to tech support."
        assert completed["assignee"] == "bob"

        back = await s.call("SubmitLabel", session="review", trace_id=trace_ids[1], schema="routing_correct",
                            value=True, labeler="alice")
        assert back["item_status"] == "pending" and back["next_pending_trace_id"] == trace_ids[2]


async def test_relabeling_overrides_the_labelers_own_label_and_keeps_the_old_one_invalid(
    db: Database, trace_ids: list[str]
) -> None:
    async with session(db) as s:
        await _review(s, trace_ids)
        label = {"session": "review", "trace_id": trace_ids[0], "schema": "routing_correct"}
        first = await s.call("SubmitLabel", **label, value="fail", labeler="alice")
        other = await s.call("SubmitLabel", **label, value="pass", labeler="bob")
        assert first["overrode"] is None and other["overrode"] is None
        second = await s.call("SubmitLabel", **label, value="pass", labeler="alice", comment="Billing was right after all.")
        assert second["overrode"] == first["assessment_id"]

        history = await s.call("ListAssessments", trace_id=trace_ids[0], name="routing_correct", include_invalid=True)
        states = {a["assessment_id"]: (a["valid"], a["value"], a["source_id"]) for a in history["assessments"]}
        assert states == {
            first["assessment_id"]: (False, False, "alice"),
            other["assessment_id"]: (True, True, "bob"),
            second["assessment_id"]: (True, True, "alice"),
        }
        old = await s.call("GetAssessment", assessment_id=first["assessment_id"])
        assert old["overridden_by"] == second["assessment_id"]
        item = (await s.call("ListLabelingItems", session="review", max_results=1))["items"][0]
        assert sorted((lbl["labeler"], lbl["value"]) for lbl in item["labels"]) == [("alice", True), ("bob", True)]


async def test_labels_are_human_assessments_that_search_traces_filters_find(db: Database, trace_ids: list[str]) -> None:
    async with session(db) as s:
        await _review(s, trace_ids)
        for trace_id, verdict in zip(trace_ids[:3], ("fail", "pass", "no"), strict=True):
            await s.call("SubmitLabel", session="review", trace_id=trace_id, schema="routing_correct", value=verdict,
                         labeler="alice")
        await s.call("SubmitLabel", session="review", trace_id=trace_ids[1], schema="department", value="technical",
                     labeler="alice")
        misrouted = await s.call("SearchTraces", filter_string="feedback.routing_correct = 'false'")
        assert {t["trace_id"] for t in misrouted["traces"]} == {trace_ids[0], trace_ids[2]}
        assert (await s.call("CountTraces", filter_string="feedback.routing_correct = TRUE"))["count"] == 1
        technical = await s.call("SearchTraces", filter_string="expectation.department = 'technical'")
        assert [t["trace_id"] for t in technical["traces"]] == [trace_ids[1]]
        listed = (await s.call("ListAssessments", trace_id=trace_ids[0]))["assessments"]
        assert [(a["name"], a["kind"], a["source_type"], a["source_id"], a["value"]) for a in listed] == [
            ("routing_correct", "feedback", "HUMAN", "alice", False)
        ]


async def test_labels_need_a_queued_trace_a_schema_of_the_session_and_an_assignee(
    db: Database, trace_ids: list[str]
) -> None:
    async with session(db) as s:
        created = await _review(s, trace_ids, assignees=["alice", "bob"])
        not_queued = await s.error("SubmitLabel", session="review", trace_id=trace_ids[5], schema="routing_correct",
                                   value=True, labeler="alice")
        assert "AddTracesToLabelingSession" in not_queued and trace_ids[5] in not_queued
        await s.call("CreateLabelingSchema", name="tone", type="feedback", input={"kind": "pass_fail"})
        other_schema = await s.error("SubmitLabel", session="review", trace_id=trace_ids[0], schema="tone",
                                     value=True, labeler="alice")
        assert "does not ask schema 'tone'" in other_schema and "'routing_correct', 'department'" in other_schema
        stranger = await s.error("SubmitLabel", session="review", trace_id=trace_ids[0], schema="routing_correct",
                                 value=True, labeler="mallory")
        assert "'alice', 'bob'" in stranger
        # The session_id works wherever the name does.
        by_id = await s.call("SubmitLabel", session=created["session_id"], trace_id=trace_ids[0],
                             schema="routing_correct", value=True, labeler="bob")
        assert by_id["value"] is True
        assert (await s.call("ListAssessments", trace_id=trace_ids[5]))["total_matching"] == 0


async def test_a_queue_page_stays_within_its_budget_however_long_the_labels(db: Database, trace_ids: list[str]) -> None:
    async with session(db) as s:
        await s.call("CreateLabelingSchema", name="answer", type="expectation", input={"kind": "text"},
                     enable_comment=True)
        await s.call("CreateLabelingSession", name="long", schemas=["answer"])
        await s.call("AddTracesToLabelingSession", session="long", trace_ids=trace_ids)
        for trace_id in trace_ids[:3]:
            for n in range(22):
                await s.call("SubmitLabel", session="long", trace_id=trace_id, schema="answer", value="x" * 9_000,
                             labeler=f"labeler{n}", comment="why " * 1_000)
        result = await s.client.call_tool("ListLabelingItems", {"session": "long", "max_results": 100})
        page = result.structured_content
        assert len(result.content[0].text) <= 40_000
        first = page["items"][0]
        assert (len(first["labels"]), first["labels_not_shown"]) == (20, 2)
        assert first["labels"][0]["value"] is None and len(first["labels"][0]["value_preview"]) <= 300
        assert len(first["labels"][0]["comment"]) <= 300
        assert len(page["items"]) < 10 and page["next_page_token"] is not None


def _one_chain(submitted: list[dict[str, Any]], history: list[dict[str, Any]], labeler: str) -> None:
    """Every submission was stored; the labeler has one valid label, the last of one chain in
    which each label overrides the one before."""
    mine = [a for a in history if a["source_id"] == labeler]
    assert len(mine) == len(submitted)
    assert [a["assessment_id"] for a in mine if a["valid"]] == [
        next(s["assessment_id"] for s in submitted if s["assessment_id"] not in {t["overrode"] for t in submitted})
    ]
    overrode = [s["overrode"] for s in submitted]
    assert overrode.count(None) == 1 and len(set(overrode)) == len(overrode)


async def test_concurrent_labels_by_one_labeler_all_land_and_the_newest_is_the_one_valid_label(
    db: Database, trace_ids: list[str]
) -> None:
    async with session(db) as s:
        await _review(s, trace_ids)
        for trace_id in trace_ids[:3]:
            submitted: list[dict[str, Any]] = []

            async def submit(value: str) -> None:
                submitted.append(
                    await s.call("SubmitLabel", session="review", trace_id=trace_id, schema="routing_correct",
                                 value=value, labeler="alice")
                )

            async with anyio.create_task_group() as group:
                for n in range(12):
                    group.start_soon(submit, "pass" if n % 2 else "fail")
            history = await s.call("ListAssessments", trace_id=trace_id, name="routing_correct", include_invalid=True)
            _one_chain(submitted, history["assessments"], "alice")


def test_labels_submitted_from_many_threads_at_once_leave_one_valid_label(db: Database, trace_ids: list[str]) -> None:
    labeling_store.put_schema(db, "routing_correct", "feedback", {"kind": "pass_fail"})
    record = labeling_store.create_session(db, "review", ["routing_correct"])
    labeling_store.add_items(db, record.session_id, trace_ids[:1])
    start = threading.Barrier(16)
    submitted: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def submit(value: bool) -> None:
        start.wait(timeout=30)
        try:
            result = queue.submit_label(db, "review", trace_ids[0], "routing_correct", value, labeler="alice")
        except BaseException as exc:  # collected for the assertion below, which names them
            failures.append(exc)
        else:
            submitted.append(result.model_dump())

    threads = [threading.Thread(target=submit, args=(n % 2 == 0,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    history, _ = assessment_store.list_assessments(db, trace_ids[0], include_invalid=True, limit=100)
    _one_chain(submitted, [a.model_dump() for a in history], "alice")
