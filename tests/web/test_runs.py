"""The evaluation runs' JSON API through a real server over HTTP: /api/runs, /api/runs/{run_id} and
/api/runs/compare answer what ListEvaluationRuns, GetEvaluationRun and CompareEvaluationRuns answer
(same services, same paging, same errors), with beside them only what the pages draw that the tools
leave out (metrics in the list, value distributions and rationales in the report)."""

from __future__ import annotations

import httpx2
import pytest

from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
from mcp_server.demo.target import ROUTER_PROMPT
from mcp_server.evaluation.run import evaluate
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.settings import Settings
from store import Database, datasets, prompts
from tests.support.live_server import LiveServer
from tests.support.northwind import BILLING_FIRST
from tests.web.conftest import MISROUTED, STRICT_RATIONALE, in_a_thread
from tests.web.test_api import tool


async def test_the_run_list_pages_as_list_evaluation_runs_does_with_each_runs_metrics_beside(
    web_server: LiveServer, two_runs: tuple[EvaluationRun, EvaluationRun]
) -> None:
    v1, v2 = two_runs
    first = httpx2.get(f"{web_server.url}/api/runs", params={"max_results": 1}).json()
    metrics = first.pop("metrics")
    assert first == await tool(web_server, "ListEvaluationRuns", {"max_results": 1})
    assert [run["run_id"] for run in first["runs"]] == [v2.run_id]  # newest first
    assert metrics == {v2.run_id: v2.metrics}
    rest = httpx2.get(f"{web_server.url}/api/runs", params={"max_results": 1, "page_token": first["next_page_token"]}).json()
    assert [run["run_id"] for run in rest["runs"]] == [v1.run_id] and rest["next_page_token"] is None
    assert rest["metrics"][v1.run_id]["resolved/pass_rate"] == pytest.approx(0.9)


async def test_a_runs_report_is_get_evaluation_run_with_value_counts_and_rationales(
    web_server: LiveServer, two_runs: tuple[EvaluationRun, EvaluationRun]
) -> None:
    v1, _ = two_runs
    url = f"{web_server.url}/api/runs/{v1.run_id}"
    report = httpx2.get(url, params={"max_results": 15}).json()
    distribution, rationales = report.pop("distribution"), report.pop("rationales")
    assert report == await tool(web_server, "GetEvaluationRun", {"run_id": v1.run_id, "max_results": 15})
    assert distribution["resolved"] == [{"value": True, "count": 9}, {"value": False, "count": 1}]
    assert sum(c["count"] for c in distribution["tool_call_count"]) == v1.metrics["tool_call_count/count"] == 10
    (failed,) = [r for r in report["results"] if r["judge"] == "resolved" and r["value"] is False]
    assert rationales[failed["assessment_id"]] == STRICT_RATIONALE
    trace = httpx2.get(f"{web_server.url}/api/traces/{failed['trace_id']}").json()
    assert MISROUTED in trace["request_preview"]
    assert set(rationales) == {r["assessment_id"] for r in report["results"]}  # every verdict here has one
    rest = httpx2.get(url, params={"max_results": 15, "page_token": report["next_page_token"]}).json()
    assert len(report["results"]) + len(rest["results"]) == 20 and rest["next_page_token"] is None
    errors = httpx2.get(url, params={"errors_only": "true"}).json()
    assert errors["results"] == [] and errors["errors_by_judge"] == {}


async def test_comparing_two_runs_is_compare_evaluation_runs(
    web_server: LiveServer, two_runs: tuple[EvaluationRun, EvaluationRun]
) -> None:
    v1, v2 = two_runs
    comparison = httpx2.get(f"{web_server.url}/api/runs/compare", params={"run_a": v1.run_id, "run_b": v2.run_id}).json()
    assert comparison == await tool(web_server, "CompareEvaluationRuns", {"run_a": v1.run_id, "run_b": v2.run_id})
    assert comparison["changed_count"] == {"resolved": 1} and comparison["compared"] == 20
    (changed,) = comparison["changed"]
    assert (changed["judge"], changed["a"], changed["b"]) == ("resolved", False, True)
    (rate,) = [m for m in comparison["metrics"] if m["metric"] == "resolved/pass_rate"]
    assert rate["delta"] == pytest.approx(0.1)


def test_run_routes_say_what_was_wrong(web_server: LiveServer, two_runs: tuple[EvaluationRun, EvaluationRun]) -> None:
    missing = httpx2.get(f"{web_server.url}/api/runs/run-nope")
    assert missing.status_code == 404 and "'run-nope' is not in this store" in missing.json()["error"]
    half = httpx2.get(f"{web_server.url}/api/runs/compare", params={"run_a": two_runs[0].run_id})
    assert half.status_code == 400 and half.json()["error"].startswith("run_b is missing")
    unknown = httpx2.get(f"{web_server.url}/api/runs/compare", params={"run_a": two_runs[0].run_id, "run_b": "run-nope"})
    assert unknown.status_code == 404
    flag = httpx2.get(f"{web_server.url}/api/runs/{two_runs[0].run_id}", params={"errors_only": "maybe"})
    assert flag.status_code == 400 and "errors_only must be true or false" in flag.json()["error"]
    damaged = httpx2.get(f"{web_server.url}/api/runs", params={"page_token": "abc"})
    assert damaged.status_code == 400 and "ListEvaluationRuns" in damaged.json()["error"]
    assert httpx2.get(f"{web_server.url}/runs/compare").status_code == 200  # the page shell, for the script


RECORDS = [
    ("Why was I charged for roaming in Spain? I thought my plan covered the EU.", "billing_specialist"),
    ("Which plans include unlimited 5G data?", "product_specialist"),
]


def dataset_runs(server: LiveServer) -> tuple[EvaluationRun, EvaluationRun]:
    """The demo agent run on two dataset records with the shipped router prompt, then with the
    billing rule first, which routes the roaming question right."""
    db = Database(server.settings.db_path)
    try:
        datasets.create_dataset(db, "support")
        datasets.upsert_records(db, "support", [
            {"inputs": {"question": q, "account_id": "NW-27730"}, "expectations": {"expected_specialist": s}}
            for q, s in RECORDS
        ])  # fmt: skip
        assert prompts.latest_prompt_version(db, ROUTER_PROMPT).template == ROUTER_SYSTEM_PROMPT
        prompts.register_prompt_version(db, ROUTER_PROMPT, BILLING_FIRST, commit_message="billing rule first")
        runs = []
        for version in (1, 2):
            prompts.set_prompt_alias(db, ROUTER_PROMPT, "production", version)
            runs.append(in_a_thread(
                evaluate, db, ["tests.mcp_server.evaluation.example_judges:routed_as_expected"], settings=Settings(),
                dataset="support", target="mcp_server.demo_target:answer", name=f"prompt v{version}",
            ))  # fmt: skip
    finally:
        db.close()
    return runs[0], runs[1]


async def test_comparing_runs_on_a_dataset_pairs_the_records_and_names_both_traces(web_server: LiveServer) -> None:
    before, after = dataset_runs(web_server)
    comparison = httpx2.get(f"{web_server.url}/api/runs/compare", params={"run_a": before.run_id, "run_b": after.run_id}).json()
    assert comparison == await tool(web_server, "CompareEvaluationRuns", {"run_a": before.run_id, "run_b": after.run_id})
    (changed,) = comparison["changed"]
    assert changed["record_id"] and changed["trace_id_b"] not in (None, changed["trace_id"])
    outputs = [httpx2.get(f"{web_server.url}/api/traces/{t}").json() for t in (changed["trace_id"], changed["trace_id_b"])]
    assert all("roaming in Spain" in o["request_preview"] for o in outputs)
    assert outputs[0]["response_preview"] != outputs[1]["response_preview"]
