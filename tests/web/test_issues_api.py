"""The issues' JSON API through a real server over HTTP, over the demo store and a second round of the
agent's traces, whose issues DiscoverIssues found without any model: the coverage service's timeout
(2 traces, from their failing spans) and the misroute (2 traces, from a code check's failing
'routing' verdicts). The issues and an issue answer what ListIssues and GetIssue answer over MCP (the
list with each issue's share of the last 7 days beside it); a change is UpdateIssue's (status,
severity, a merge, a split), a dataset CreateDatasetFromIssue's; writes need the request header and
a read-only server refuses them; errors say what to do. Beside them, a monitor's alerts are
ListAlerts' answer, with the event an AlertWatcher stored when the rule's condition held."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from mcp_server.alerts import service as alerts
from mcp_server.alerts.watcher import AlertWatcher
from mcp_server.assessments.service import log_feedback
from mcp_server.issues import service
from mcp_server.issues.discovery import discover_issues
from mcp_server.monitors import service as monitors
from mcp_server.settings import Settings
from store import Database
from store.datasets import resolve_version
from store.search import search_trace_ids
from tests.support.live_server import LiveServer
from tests.support.northwind import MISROUTED, new_agent_traces
from tests.web.conftest import demo_server, in_a_thread
from tests.web.test_api import WRITE, tool
from tests.web.test_monitors_api import BUILT_IN, judge_queued

TIMEOUT = "execute_tool check_coverage fails (timeout)"
MISROUTE = 'routing judged "no"'
MISROUTE_RATIONALE = "A billing question was handed to the product specialist."
DAY_NS = 86_400 * 10**9


def misrouted(db: Database) -> list[str]:
    """The two traces (one a round) whose roaming charge question went to the wrong specialist."""
    found = search_trace_ids(db, f"trace.text LIKE '%{MISROUTED}%'", None, 10)
    assert len(found) == 2, found
    return found


def discover(db: Database) -> dict[str, service.Issue]:
    """A second round of the agent's traces, a code check's failing 'routing' verdict on the two
    misrouted ones, then DiscoverIssues without a model: the issues by title."""
    new_agent_traces(db)
    for trace_id in misrouted(db):
        log_feedback(db, trace_id, "routing", "no", source_type="CODE", source_id="routing-check",
                     rationale=MISROUTE_RATIONALE)  # fmt: skip
    report = in_a_thread(discover_issues, db, settings=Settings(db_path=db.path))
    assert (report.traces, report.named_by_model, len(report.issues)) == (20, False, 2), report.message
    return {i.title: i for i in service.list_issues(db).issues}


def at_demo_time(monkeypatch: pytest.MonkeyPatch, db: Database, days_after: float = 3) -> None:
    """The issues service's clock set to `days_after` days after the demo's traces started (they are
    from 2025), so the last 7 days hold them and prevalence has traces to count."""
    start = db.reader().execute("SELECT max(start_ns) FROM traces").fetchone()[0]
    monkeypatch.setattr(service, "time", types.SimpleNamespace(time_ns=lambda: start + int(days_after * DAY_NS)))


@pytest.fixture
def issues(web_server: LiveServer) -> dict[str, service.Issue]:
    return discover(web_server.db)


def issue_url(server: LiveServer, issue: service.Issue | str) -> str:
    return f"{server.url}/api/issues/{issue if isinstance(issue, str) else issue.issue_id}"


async def test_the_issues_answer_as_list_issues_with_each_ones_share_of_the_last_7_days_beside(
    web_server: LiveServer, issues: dict[str, service.Issue], monkeypatch: pytest.MonkeyPatch
) -> None:
    at_demo_time(monkeypatch, web_server.db)
    for params in ({}, {"status": "open", "order": "recent"}, {"status": "confirmed"}, {"max_results": 1}):
        answer = httpx2.get(f"{web_server.url}/api/issues", params=params)
        assert answer.status_code == 200, answer.text
        listed = answer.json()
        prevalence = listed.pop("prevalence")
        assert listed == await tool(web_server, "ListIssues", params), params
        assert set(prevalence) == {i["issue_id"] for i in listed["issues"]}
    listed = httpx2.get(f"{web_server.url}/api/issues").json()
    assert [(i["title"], i["trace_count"]) for i in listed["issues"]] == [(TIMEOUT, 2), (MISROUTE, 2)]
    shares = listed["prevalence"]
    for issue in issues.values():
        assert shares[issue.issue_id] == {"window_days": 7, "affected": 2, "traces": 20, "share": 0.1,
                                          "previous_share": None, "trend": "new"}  # fmt: skip
    first = httpx2.get(f"{web_server.url}/api/issues", params={"max_results": 1}).json()
    rest = httpx2.get(f"{web_server.url}/api/issues", params={"max_results": 1, "page_token": first["next_page_token"]}).json()
    assert [i["title"] for i in first["issues"] + rest["issues"]] == [TIMEOUT, MISROUTE] and rest["next_page_token"] is None


async def test_an_issue_answers_as_get_issue_with_its_evidence_at_the_spans_that_show_it(
    web_server: LiveServer, issues: dict[str, service.Issue]
) -> None:
    misroute = issues[MISROUTE]
    for params in ({}, {"window_days": 30}, {"max_results": 1}):
        answer = httpx2.get(issue_url(web_server, misroute), params=params)
        assert answer.status_code == 200, answer.text
        assert answer.json() == await tool(web_server, "GetIssue", {"issue_id": misroute.issue_id, **params}), params
    detail = httpx2.get(issue_url(web_server, misroute)).json()
    assert sorted(e["trace_id"] for e in detail["evidence"]) == sorted(misrouted(web_server.db))
    roots = dict(web_server.db.reader().execute("SELECT trace_id, root_span_id FROM traces"))
    assert all(e["span_id"] == roots[e["trace_id"]] and e["excerpt"] == MISROUTE_RATIONALE for e in detail["evidence"])
    first = httpx2.get(issue_url(web_server, misroute), params={"max_results": 1}).json()
    rest = httpx2.get(issue_url(web_server, misroute), params={"max_results": 1, "page_token": first["next_page_token"]}).json()
    assert {e["trace_id"] for e in first["evidence"] + rest["evidence"]} == set(misrouted(web_server.db))
    assert rest["next_page_token"] is None
    timeout = httpx2.get(issue_url(web_server, issues[TIMEOUT])).json()
    failing = dict(web_server.db.reader().execute(
        "SELECT trace_id, span_id FROM spans WHERE status_code = 'ERROR' AND name = 'execute_tool check_coverage'"))
    assert {(e["trace_id"], e["span_id"]) for e in timeout["evidence"]} == set(failing.items()) and len(failing) == 2


def test_a_change_is_update_issue_and_the_store_keeps_it(web_server: LiveServer, issues: dict[str, service.Issue]) -> None:
    url = issue_url(web_server, issues[TIMEOUT])
    assert httpx2.post(url, json={"status": "confirmed"}).status_code == 403  # no request header: not our page
    assert service.get_issue(web_server.db, issues[TIMEOUT].issue_id).status == "open"
    changed = httpx2.post(url, json={"status": "confirmed", "severity": "critical"}, headers=WRITE)
    assert changed.status_code == 200, changed.text
    (issue,) = changed.json()["issues"]
    assert (issue["status"], issue["severity"]) == ("confirmed", "critical")
    stored = service.get_issue(web_server.db, issues[TIMEOUT].issue_id)
    assert (stored.status, stored.severity, stored.title) == ("confirmed", "critical", TIMEOUT)
    renamed = httpx2.post(url, json={"title": "Coverage checks time out", "root_cause": "the coverage API is slow"},
                          headers=WRITE).json()["issues"][0]  # fmt: skip
    assert (renamed["title"], renamed["root_cause"], renamed["status"]) == ("Coverage checks time out", "the coverage API is slow", "confirmed")


def test_a_merge_moves_the_evidence_and_a_split_moves_it_out_again(web_server: LiveServer, issues: dict[str, service.Issue]) -> None:
    into, other = issues[TIMEOUT].issue_id, issues[MISROUTE].issue_id
    merged = httpx2.post(issue_url(web_server, other), json={"merge_into": into}, headers=WRITE)
    assert merged.status_code == 200, merged.text
    assert [(i["issue_id"], i["trace_count"], i["merged_into"]) for i in merged.json()["issues"]] == [(into, 4, None), (other, 0, into)]
    assert [i["issue_id"] for i in httpx2.get(f"{web_server.url}/api/issues").json()["issues"]] == [into]  # merged ones leave the list
    moved = misrouted(web_server.db)
    split = httpx2.post(issue_url(web_server, into), json={"split_trace_ids": moved, "split_title": "Misroutes"}, headers=WRITE)
    assert split.status_code == 200, split.text
    kept, made = split.json()["issues"]
    assert (kept["trace_count"], made["title"], made["trace_count"]) == (2, "Misroutes", 2)
    assert set(service.store.issue_trace_ids(web_server.db, made["issue_id"])) == set(moved)


def test_a_dataset_of_an_issue_is_create_dataset_from_issue(web_server: LiveServer, issues: dict[str, service.Issue]) -> None:
    issue = issues[MISROUTE]
    url = f"{issue_url(web_server, issue)}/dataset"
    made = httpx2.post(url, json={}, headers=WRITE)
    assert made.status_code == 200, made.text
    report = made.json()
    name = f"issue-{issue.issue_id.removeprefix('iss-')}"
    # The two misrouted traces asked the same question: one record, its inputs the dataset's key.
    assert (report["dataset"], report["traces"], report["added"], report["record_count"]) == (name, 2, 1, 1)
    assert resolve_version(web_server.db, name, None)  # stored
    named = httpx2.post(url, json={"dataset": "misroutes"}, headers=WRITE).json()
    assert (named["dataset"], named["added"], named["record_count"]) == ("misroutes", 1, 1)


def test_errors_say_what_to_do(web_server: LiveServer, issues: dict[str, service.Issue]) -> None:
    url = f"{web_server.url}/api/issues"
    known = issue_url(web_server, issues[TIMEOUT])

    def answer(response: httpx2.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]

    status, error = answer(httpx2.get(f"{url}/iss-nobody"))
    assert status == 404 and "issue 'iss-nobody' is not in this store" in error and "ListIssues" in error
    for path, body in (("/iss-nobody", {"status": "confirmed"}), ("/iss-nobody/dataset", {})):
        status, error = answer(httpx2.post(f"{url}{path}", json=body, headers=WRITE))
        assert status == 404 and "'iss-nobody'" in error, path
    status, error = answer(httpx2.get(url, params={"status": "closed"}))
    assert status == 400 and "status must be one of open, confirmed, rejected, resolved" in error
    status, error = answer(httpx2.get(url, params={"order": "worst"}))
    assert status == 400 and "order must be 'traces'" in error
    status, error = answer(httpx2.get(known, params={"window_days": "a week"}))
    assert status == 400 and "window_days must be a number" in error
    status, error = answer(httpx2.get(url, params={"page_token": "abc"}))
    assert status == 400 and "page_token" in error
    status, error = answer(httpx2.post(known, json={"status": "done"}, headers=WRITE))
    assert status == 400 and "status must be one of" in error
    status, error = answer(httpx2.post(known, json={"severity": "huge"}, headers=WRITE))
    assert status == 400 and "severity must be one of low, medium, high, critical" in error
    status, error = answer(httpx2.post(known, json={"owner": "me"}, headers=WRITE))
    assert status == 400 and "unknown fields owner" in error
    status, error = answer(httpx2.post(known, json={"status": "confirmed", "merge_into": "iss-x"}, headers=WRITE))
    assert status == 400 and "give one change" in error
    status, error = answer(httpx2.post(known, json={"merge_into": issues[TIMEOUT].issue_id}, headers=WRITE))
    assert status == 400 and "cannot be merged into itself" in error
    status, error = answer(httpx2.post(known, json={"split_trace_ids": "abc"}, headers=WRITE))
    assert status == 400 and "split_trace_ids must be a list of trace ids" in error
    status, error = answer(httpx2.post(f"{known}/dataset", json={"dataset": 7}, headers=WRITE))
    assert status == 400 and "dataset must be a dataset's name" in error
    assert service.get_issue(web_server.db, issues[TIMEOUT].issue_id).status == "open"


@pytest.fixture
def read_only_server(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, service.Issue]]]:
    path = tmp_path / "web.db"
    server = demo_server(tmp_path, read_only=True)
    db = Database(path)  # the server opens its store read-only; the issues are found beside it
    try:
        found = discover(db)
    finally:
        db.close()
    yield server, found
    server.stop()


def test_a_read_only_server_shows_issues_but_refuses_to_change_them_or_make_datasets(
    read_only_server: tuple[LiveServer, dict[str, service.Issue]],
) -> None:
    server, issues = read_only_server
    url = issue_url(server, issues[TIMEOUT])
    assert httpx2.get(f"{server.url}/api/issues").status_code == 200 and httpx2.get(url).status_code == 200
    for path, body in (("", {"status": "confirmed"}), ("/dataset", {})):
        refused = httpx2.post(f"{url}{path}", json=body, headers=WRITE)
        assert refused.status_code == 403 and "started read-only" in refused.json()["error"]
    assert service.get_issue(server.db, issues[TIMEOUT].issue_id).status == "open"


async def _check(db: Database, settings: Settings) -> list[Any]:
    async with anyio.create_task_group() as group:
        return await AlertWatcher(db, settings).check(group)


def fired_alert(server: LiveServer, name: str = "quality", rule: str = "errors-seen") -> None:
    """Monitor `name` (error_spans and latency, code judges) over the demo's 10 traces, judged by a real
    MonitorRunner, and a rule on error_spans' pass rate that an AlertWatcher's check fires (one demo
    trace has an error span: 90%)."""
    monitors.create_monitor(server.db, name, BUILT_IN)
    assert monitors.backfill(server.db, name).queued == 10
    assert judge_queued(server.db) == 10
    alerts.create_rule(server.db, server.settings, rule, name, "error_spans/pass_rate < 0.95", window_s=3_600, min_judgments=5)
    (event,) = in_a_thread(_check, server.db, server.settings)
    assert event.kind == "fired" and event.value == pytest.approx(0.9)


async def test_a_monitors_alerts_answer_as_list_alerts(web_server: LiveServer) -> None:
    fired_alert(web_server)
    answer = httpx2.get(f"{web_server.url}/api/monitors/quality/alerts")
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert listed == await tool(web_server, "ListAlerts", {"monitor": "quality"})
    (rule,) = listed["rules"]
    assert (rule["name"], rule["state"], rule["last_value"], rule["last_judgments"]) == ("errors-seen", "firing", 0.9, 10)
    assert [(e["kind"], e["webhook_status"]) for e in listed["events"]] == [("fired", "none")]
    assert httpx2.get(f"{web_server.url}/api/monitors/quality/alerts", params={"max_events": 0}).json()["events"] == []
    missing = httpx2.get(f"{web_server.url}/api/monitors/nobody/alerts")
    assert missing.status_code == 404 and "monitor 'nobody' is not in this store" in missing.json()["error"]
    bad = httpx2.get(f"{web_server.url}/api/monitors/quality/alerts", params={"max_events": 501})
    assert bad.status_code == 400 and "max_events must be an integer from 0 to 500" in bad.json()["error"]
