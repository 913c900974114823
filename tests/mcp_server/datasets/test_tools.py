"""The dataset tools through the in-process MCP client, on the demo traces: datasets from traces
and their expectations, de-duplication and merge, pinned versions, paging, and bad input."""

from __future__ import annotations

import json

import pytest

from mcp_server.datasets import service
from mcp_server.demo.load import load_demo
from store import Database, SpanIn, write_spans
from store.search import search_trace_ids
from tests.support.mcp_session import Session, session

TOOLS = {
    "CreateDataset", "ListDatasets", "GetDataset", "AddTracesToDataset", "UpsertDatasetRecords",
    "ListDatasetRecords", "DeleteDatasetRecords",
}  # fmt: skip
READ_ONLY = {"ListDatasets", "GetDataset", "ListDatasetRecords"}
NO_ROOT_INPUTS = "0af7651916cd43dd8448eb211c80319c"
NO_ROOT_YET = "1af7651916cd43dd8448eb211c80319c"
T0 = 1_700_000_000_000_000_000


@pytest.fixture
def demo(db: Database) -> list[str]:
    """The ten demo traces, oldest first."""
    load_demo(db)
    return search_trace_ids(db, None, ["timestamp_ms ASC"], 100)


def _write_odd_traces(db: Database) -> None:
    """A trace whose root span has no inputs, and one whose root span has not arrived."""
    write_spans(db, [
        SpanIn(trace_id=NO_ROOT_INPUTS, span_id="0" * 15 + "1", name="cron", start_ns=T0, end_ns=T0 + 1),
        SpanIn(trace_id=NO_ROOT_YET, span_id="0" * 15 + "2", parent_span_id="0" * 15 + "9", name="child",
               start_ns=T0, end_ns=T0 + 1),
    ])  # fmt: skip


async def _expect(s: Session, trace_id: str, name: str, value: object) -> str:
    logged = await s.call("LogExpectation", trace_id=trace_id, name=name, value=value)
    return logged["assessment_id"]


async def _records(s: Session, dataset: str, version: int | None = None) -> dict[str, dict]:
    """Every record of a version, by record_id, read page by page."""
    found: dict[str, dict] = {}
    token = None
    while True:
        page = await s.call("ListDatasetRecords", dataset=dataset, version=version, max_results=7, page_token=token)
        for record in page["records"]:
            assert record["record_id"] not in found
            found[record["record_id"]] = record
        token = page["next_page_token"]
        if token is None:
            assert len(found) == page["total"]
            return found


async def test_tools_list_shows_the_dataset_tools_with_honest_annotations(db: Database) -> None:
    async with session(db) as s:
        listed = {tool.name: tool for tool in (await s.client.list_tools()).tools}
    assert TOOLS <= listed.keys()
    for name in TOOLS:
        tool = listed[name]
        hints = tool.annotations
        assert hints is not None and hints.open_world_hint is False
        assert hints.read_only_hint is (name in READ_ONLY)
        assert hints.destructive_hint is (name == "DeleteDatasetRecords")
        assert "Example:" in (tool.description or "") and tool.output_schema is not None
        for parameter, schema in tool.input_schema["properties"].items():
            # page_token alone goes undescribed: the server instructions explain paging once.
            assert schema.get("description") or parameter == "page_token", f"{name}.{parameter} has no description"


async def test_a_dataset_from_traces_copies_root_inputs_and_valid_expectations(db: Database, demo: list[str]) -> None:
    first, second, third = demo[:3]
    async with session(db) as s:
        await s.call("CreateDataset", name="routing", description="routing cases")
        await _expect(s, first, "expected_route", "billing")
        wrong = await _expect(s, second, "expected_route", "tech")
        await s.call("OverrideAssessment", assessment_id=wrong, value="plans")
        await _expect(s, second, "must_mention", ["plan name"])
        await _expect(s, third, "expected_route", "tech")
        report = await s.call(
            "AddTracesToDataset", dataset="routing", filter_string="expectation.expected_route IN ('billing', 'plans')"
        )
        assert (report["traces"], report["added"], report["version"], report["record_count"]) == (2, 2, 1, 2)
        assert report["message"].startswith("2 traces: 2 added, 0 merged, 0 unchanged, 0 skipped")
        records = {r["source_trace_id"]: r for r in (await _records(s, "routing")).values()}
        root = await s.call("GetRootSpan", trace_id=first)
    assert set(records) == {first, second}
    assert records[first]["inputs"] == {"request": root["inputs"]}
    assert records[first]["inputs"]["request"][0]["role"] == "user"
    assert records[first]["expectations"] == {"expected_route": "billing"}
    assert records[second]["expectations"] == {"expected_route": "plans", "must_mention": ["plan name"]}
    assert all(r["added_version"] == 1 and r["tags"] == {} for r in records.values())


async def test_adding_the_same_traces_again_changes_nothing_and_makes_no_version(db: Database, demo: list[str]) -> None:
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        await s.call("AddTracesToDataset", dataset="d", trace_ids=demo[:4])
        again = await s.call("AddTracesToDataset", dataset="d", trace_ids=demo[:4])
        info = await s.call("GetDataset", name="d")
    assert (again["changed"], again["unchanged"], again["version"]) == (False, 4, 1)
    assert "nothing changed, so dataset 'd' stays at version 1" in again["message"]
    assert info["version_count"] == 2 and info["record_count"] == 4


async def test_a_new_expectation_merges_into_the_trace_record_and_the_old_version_keeps_its_form(
    db: Database, demo: list[str]
) -> None:
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        await _expect(s, demo[0], "expected_route", "billing")
        await s.call("AddTracesToDataset", dataset="d", trace_ids=demo[:3])
        v1 = await _records(s, "d", version=1)
        await _expect(s, demo[0], "expected_route", "plans")  # a second value: the latest logged wins
        await _expect(s, demo[1], "expected_route", "tech")
        merged = await s.call("AddTracesToDataset", dataset="d", trace_ids=[f"tr-{t.upper()}" for t in demo[:3]])
        assert (merged["version"], merged["merged"], merged["unchanged"], merged["record_count"]) == (2, 2, 1, 3)
        deleted = await s.call(
            "DeleteDatasetRecords", dataset="d", record_ids=[next(iter(v1)), "r-0123456789abcdef"]
        )
        assert (deleted["version"], deleted["record_count"], deleted["not_found"]) == (3, 2, ["r-0123456789abcdef"])
        assert await _records(s, "d", version=1) == v1
        v2 = await _records(s, "d", version=2)
        latest = await _records(s, "d")
    assert v2.keys() == v1.keys() and len(latest) == 2
    by_trace = {r["source_trace_id"]: r for r in v2.values()}
    assert by_trace[demo[0]]["expectations"] == {"expected_route": "plans"}
    assert by_trace[demo[0]]["added_version"] == 2 and by_trace[demo[2]]["added_version"] == 1


async def test_traces_without_root_inputs_are_skipped_with_the_reason(db: Database, demo: list[str]) -> None:
    _write_odd_traces(db)
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        report = await s.call("AddTracesToDataset", dataset="d", trace_ids=[demo[0], NO_ROOT_INPUTS, NO_ROOT_YET])
    assert (report["added"], report["skipped"]) == (1, 2)
    reasons = {t["trace_id"]: t["reason"] for t in report["skipped_traces"]}
    assert reasons == {NO_ROOT_INPUTS: "its root span has no inputs", NO_ROOT_YET: "its root span has not arrived yet"}


async def test_add_traces_rejects_unknown_ids_and_ambiguous_arguments_and_stores_nothing(
    db: Database, demo: list[str]
) -> None:
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        unknown = await s.error("AddTracesToDataset", dataset="d", trace_ids=[demo[0], "f" * 32])
        assert f"trace {'f' * 32!r} is not in this store" in unknown
        both = await s.error("AddTracesToDataset", dataset="d", trace_ids=[demo[0]], filter_string="trace.status = 'OK'")
        neither = await s.error("AddTracesToDataset", dataset="d")
        bad_filter = await s.error("AddTracesToDataset", dataset="d", filter_string="trace.nonsense = 1")
        missing = await s.error("AddTracesToDataset", dataset="nope", trace_ids=[demo[0]])
        info = await s.call("GetDataset", name="d")
    assert "pass either filter_string" in both and "pass either filter_string" in neither
    assert "nonsense" in bad_filter
    assert "dataset 'nope' is not in this store; call ListDatasets" in missing
    assert info["version"] == 0


async def test_add_traces_refuses_a_filter_matching_more_than_the_cap(
    db: Database, demo: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_server.datasets import from_traces

    monkeypatch.setattr(from_traces, "MAX_TRACES", 5)  # the limit itself, lowered to fit the demo
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        message = await s.error("AddTracesToDataset", dataset="d", filter_string="trace.span_count > 0")
    assert "filter_string matches 10 traces, more than the 5 one call adds; narrow it" in message


async def test_upsert_records_merges_by_inputs_and_reports_counts(db: Database) -> None:
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        first = await s.call("UpsertDatasetRecords", dataset="d", records=[
            {"inputs": {"question": "Why was I charged twice?"}, "expectations": {"route": "billing"}},
            {"inputs": {"question": "Is 5G available?"}, "tags": {"topic": "coverage"}},
        ])  # fmt: skip
        second = await s.call("UpsertDatasetRecords", dataset="d", records=[
            {"inputs": {"question": "Why was I charged twice?"}, "expectations": {"refund": True}, "tags": {"hard": "yes"}},
        ])  # fmt: skip
        records = await _records(s, "d")
    assert (first["added"], first["version"]) == (2, 1) and (second["merged"], second["version"]) == (1, 2)
    assert second["record_ids"] == first["record_ids"][:1]
    merged = records[first["record_ids"][0]]
    assert merged["expectations"] == {"route": "billing", "refund": True} and merged["tags"] == {"hard": "yes"}


async def test_upsert_records_names_the_bad_record_and_field(db: Database) -> None:
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        empty = await s.error("UpsertDatasetRecords", dataset="d", records=[{"inputs": {"q": 1}}, {"inputs": {}}])
        unknown_field = await s.error("UpsertDatasetRecords", dataset="d", records=[{"input": {"q": 1}}])
        not_object = await s.error("UpsertDatasetRecords", dataset="d", records=[{"inputs": "hello"}])
        none = await s.error("UpsertDatasetRecords", dataset="d", records=[])
        info = await s.call("GetDataset", name="d")
    assert "records[1]: inputs is empty" in empty
    assert "records.0" in unknown_field and "input" in unknown_field
    assert "records.0.inputs" in not_object
    assert "records is empty" in none
    assert info["version"] == 0


async def test_list_records_pages_stay_on_the_version_their_first_page_read(db: Database) -> None:
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        await s.call("UpsertDatasetRecords", dataset="d", records=[{"inputs": {"q": str(i)}} for i in range(12)])
        first = await s.call("ListDatasetRecords", dataset="d", max_results=5)
        await s.call("UpsertDatasetRecords", dataset="d", records=[{"inputs": {"q": str(i)}} for i in range(12, 20)])
        seen = [r["record_id"] for r in first["records"]]
        token = first["next_page_token"]
        while token:
            page = await s.call("ListDatasetRecords", dataset="d", max_results=5, page_token=token)
            assert (page["version"], page["latest_version"], page["total"]) == (1, 2, 12)
            seen += [r["record_id"] for r in page["records"]]
            token = page["next_page_token"]
        assert "showing records 1 to 5 of 12" in first["notice"]
        bad = await s.error("ListDatasetRecords", dataset="d", max_results=6, page_token=first["next_page_token"])
        no_version = await s.error("ListDatasetRecords", dataset="d", version=9)
    assert len(seen) == len(set(seen)) == 12 and seen == sorted(seen)
    assert "issued by ListDatasetRecords for other arguments" in bad
    assert "has no version 9 (its versions run from 0 to 2)" in no_version


async def test_list_records_stays_within_its_budget_and_cuts_a_huge_part(db: Database) -> None:
    big = "x" * (service.FIELD_CHARS * 3)
    async with session(db) as s:
        await s.call("CreateDataset", name="d")
        await s.call("UpsertDatasetRecords", dataset="d", records=[
            {"inputs": {"q": str(i), "context": "y" * 6_000}} for i in range(10)
        ] + [{"inputs": {"q": "huge", "context": big}}])  # fmt: skip
        found = await _records(s, "d")
        page = await s.call("ListDatasetRecords", dataset="d", max_results=200)
    assert len(found) == 11
    assert len(json.dumps(page)) <= service.ANSWER_CHARS and page["next_page_token"]
    (huge,) = [r for r in found.values() if r["cut"]]
    assert huge["cut"] == ["inputs"] and isinstance(huge["inputs"], str) and huge["inputs"].endswith("…")


async def test_list_and_get_datasets(db: Database) -> None:
    async with session(db) as s:
        for name in ("beta", "alpha", "gamma"):
            await s.call("CreateDataset", name=name, description=f"{name} cases")
        taken = await s.error("CreateDataset", name="alpha")
        bad_name = await s.error("CreateDataset", name="two words")
        first = await s.call("ListDatasets", max_results=2)
        rest = await s.call("ListDatasets", max_results=2, page_token=first["next_page_token"])
        info = await s.call("GetDataset", name="alpha")
        missing = await s.error("GetDataset", name="delta")
    assert [d["name"] for d in first["datasets"]] == ["alpha", "beta"] and first["total"] == 3
    assert [d["name"] for d in rest["datasets"]] == ["gamma"] and rest["next_page_token"] is None
    assert "'alpha' already exists" in taken and "use a letter followed by" in bad_name
    assert info["versions"] == [
        {"version": 0, "change": "created", "record_count": 0, "created_time": info["created_time"]}
    ]
    assert info["description"] == "alpha cases"
    assert "call ListDatasets" in missing
