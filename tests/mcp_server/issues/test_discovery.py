"""Issues across the Northwind demo's traces, through the real MCP client and (where a model is
used) litellm's real HTTP code against scripted models: the misroute the routing judge flags and
the coverage service's timeout are two issues with the right trace counts and span-anchored
evidence, with a model naming them and without any model; discovering again after new traces adds
to them instead of making more; an issue becomes a dataset, and a judge whose precision and recall
are measured on traces it was not drafted from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server.demo.load import load_demo
from mcp_server.judges import service as judges
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database
from tests.support.mcp_session import Session, session
from tests.support.northwind import INSTRUCTIONS, MISROUTED, PLAN_RULE, NamingModels, new_agent_traces
from tests.support.scripted_openai import Reply, ScriptedOpenAI, json_reply, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]

COVERAGE_SPAN = "execute_tool check_coverage"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "issues.db")
    load_demo(database)
    # The routing judge without the scripted judge's blind spot: it flags the misroute alone.
    judges.create_judge(database, "routing", f"{INSTRUCTIONS} {PLAN_RULE}",
                        output={"kind": "categorical", "categories": ["yes", "no"]},
                        models=ModelSettings(allowed_models=None))  # fmt: skip
    yield database
    database.close()


async def judge_routing(s: Session) -> None:
    await s.call("Evaluate", judges=["routing"])


def by_title(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {issue["title"]: issue for issue in report["issues"]}


async def test_without_a_model_the_misroute_and_the_timeout_are_two_issues_with_span_anchored_evidence(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(NamingModels())
    async with session(db, scripted_settings(scripted_openai)) as s:
        await judge_routing(s)  # the verdicts are stored: discovery needs no model to read them
    async with session(db, Settings()) as s:  # no judge model at all
        report = await s.call("DiscoverIssues")
        assert (report["traces"], report["failed"], report["groups"], report["named_by_model"]) == (10, 2, 2, False)
        assert {i["category"] for i in report["issues"]} == {"Timeout Issues", "custom"}
        assert all(i["trace_count"] == 1 and i["created"] for i in report["issues"])
        details = {i["category"]: await s.call("GetIssue", issue_id=i["issue_id"]) for i in report["issues"]}
        misrouted = await s.call("SearchTraces", filter_string=f"trace.text LIKE '%{MISROUTED[:-1]}%'")
    (timeout,) = details["Timeout Issues"]["evidence"]
    spans = await _span_names(db, timeout["trace_id"])
    assert spans[timeout["span_id"]] == COVERAGE_SPAN and "did not answer" in timeout["excerpt"]
    (routing,) = details["custom"]["evidence"]
    assert routing["trace_id"] == misrouted["traces"][0]["trace_id"] and routing["source"] == "routing"
    assert routing["span_id"] == (await _root(db, routing["trace_id"]))  # anchored where the trace view opens
    assert details["Timeout Issues"]["prevalence"]["trend"] in ("none", "new")


async def _span_names(db: Database, trace_id: str) -> dict[str, str]:
    rows = db.reader().execute("SELECT span_id, name FROM spans WHERE trace_id = ?", (trace_id,))
    return dict(rows.fetchall())


async def _root(db: Database, trace_id: str) -> str:
    return db.reader().execute("SELECT root_span_id FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()[0]


async def test_a_model_names_the_issues_and_a_rerun_after_new_traces_adds_to_them(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    models = NamingModels()
    scripted_openai.respond_with(models)
    async with session(db, scripted_settings(scripted_openai)) as s:
        await judge_routing(s)
        first = by_title(await s.call("DiscoverIssues", max_cost_usd=1.0))
        assert set(first) == {"Coverage checks time out", "Billing questions sent to the product specialist"}
        assert first["Coverage checks time out"]["severity"] == "high"
        await s.call("UpdateIssue", issue_id=first["Coverage checks time out"]["issue_id"], status="resolved")
        new_agent_traces(db)  # the agent keeps running: ten new traces, one more misroute and timeout each
        await judge_routing(s)
        again = await s.call("DiscoverIssues", max_cost_usd=1.0)
        # The timeout was marked resolved, and new traces show it: it is open again.
        assert {i["title"]: i["reopened"] for i in again["issues"]} == {
            "Coverage checks time out": True, "Billing questions sent to the product specialist": False}
        listed = await s.call("ListIssues")
        detail = await s.call("GetIssue", issue_id=first["Coverage checks time out"]["issue_id"])
    assert again["named_by_model"] and again["tokens"] > 0 and again["cost_usd"] > 0
    assert {i["issue_id"] for i in again["issues"]} == {i["issue_id"] for i in first.values()}
    assert all(i["trace_count"] == 2 and i["new_traces"] == 1 and not i["created"] for i in again["issues"])
    assert listed["total"] == 2 and [i["trace_count"] for i in listed["issues"]] == [2, 2]
    assert detail["root_cause"] == "the coverage API is slow" and len(detail["evidence"]) == 2
    assert len(models.namings[1]["known_issues"]) == 2  # the second naming saw the issues found before
    # The excerpts reach the model framed as untrusted data.
    namings = [r for r in scripted_openai.requests if "name the problems" in json.dumps(r.messages)]
    assert len(namings) == 2 and all("<untrusted-trace-data>" in r.messages[1]["content"] for r in namings)


async def test_an_issue_becomes_a_tagged_dataset_and_is_curated(db: Database, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.respond_with(NamingModels())
    async with session(db, scripted_settings(scripted_openai)) as s:
        await judge_routing(s)
        issues = by_title(await s.call("DiscoverIssues"))
        timeout = issues["Coverage checks time out"]["issue_id"]
        routing = issues["Billing questions sent to the product specialist"]["issue_id"]
        made = await s.call("CreateDatasetFromIssue", issue_id=routing)
        records = await s.call("ListDatasetRecords", dataset=made["dataset"])
        confirmed = await s.call("UpdateIssue", issue_id=routing, status="confirmed", severity="high")
        merged = await s.call("UpdateIssue", issue_id=timeout, merge_into=routing)
        after = await s.call("ListIssues")
        refused = await s.error("UpdateIssue", issue_id=routing, status="confirmed", merge_into=timeout)
        unknown = await s.error("GetIssue", issue_id="iss-000000000000")
    assert made["added"] == 1 and made["dataset"].startswith("issue-")
    (record,) = records["records"]
    assert record["tags"]["issue"] == routing and MISROUTED in json.dumps(record["inputs"])
    assert confirmed["issues"][0]["status"] == "confirmed" and confirmed["issues"][0]["severity"] == "high"
    assert merged["issues"][1]["merged_into"] == routing and merged["issues"][0]["trace_count"] == 2
    assert [i["issue_id"] for i in after["issues"]] == [routing]
    assert "one change" in refused and "ListIssues" in unknown


async def test_a_judge_made_from_an_issue_is_checked_on_traces_it_was_not_drafted_from(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    models = NamingModels()

    def respond(request: dict[str, Any]) -> Reply:
        text = json.dumps(request["messages"])
        if "You write the instructions of an LLM judge" in text:
            return json_reply({"instructions": "MISROUTE-CHECK: is {{ inputs }} answered by the right specialist "
                                               "in {{ outputs }}? Answer yes or no."})  # fmt: skip
        if "MISROUTE-CHECK" in text:  # the drafted judge: it finds the misroute and nothing else
            return json_reply({"rationale": "scripted", "value": "no" if MISROUTED[:-1] in text else "yes"})
        return models(request)

    scripted_openai.respond_with(respond)
    async with session(db, scripted_settings(scripted_openai)) as s:
        for _ in range(3):
            new_agent_traces(db)
        await judge_routing(s)
        issues = by_title(await s.call("DiscoverIssues"))
        routing = issues["Billing questions sent to the product specialist"]
        assert routing["trace_count"] == 4
        made = await s.call("CreateJudgeFromIssue", issue_id=routing["issue_id"], name="misroute")
        saved = await s.call("GetJudge", name="misroute")
    checked = {c["trace_id"] for c in made["checked"]}
    assert len(made["drafted_from"]) == 2 and not checked & set(made["drafted_from"])
    assert sum(c["shows_issue"] for c in made["checked"]) == 2 and len(made["checked"]) == 4
    assert (made["precision"], made["recall"]) == (1.0, 1.0)
    assert made["version"] == 1 and "MISROUTE-CHECK" in saved["instructions"]
    assert "precision 100%, recall 100%" in made["message"]
