"""The issues pages, and a monitor's alerts on its page, in a real Chromium against a real server over
the demo store and a second round of the agent's traces, whose issues DiscoverIssues found without a
model (the coverage timeout and the misroute, 2 traces each): the list shows them by status with
their counts and share of the last 7 days; an issue's page shows its prevalence and evidence, each
trace opened at the span that shows it (and a span far down a long trace scrolled into view); confirm
and severity change it on the page and in the store; a dataset made of it links to its page; an
unknown issue and a read-only server say so; a hostile title and excerpt render as inert text. The
monitor page lists its alert rule and the event an AlertWatcher stored when it fired."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mcp_server.issues import service
from mcp_server.monitors import service as monitors
from store import Database
from store.datasets import resolve_version
from store.issues import Evidence
from tests.support.live_server import LiveServer
from tests.support.northwind import new_agent_traces
from tests.web.conftest import assert_inert, browser_page, demo_server, save_screenshot
from tests.web.test_issues_api import (
    MISROUTE,
    MISROUTE_RATIONALE,
    TIMEOUT,
    at_demo_time,
    discover,
    fired_alert,
    misrouted,
)
from tests.web.test_monitors_api import BUILT_IN
from tests.web.test_pages import HOSTILE, send_trace

pytestmark = pytest.mark.slow


@pytest.fixture
def issues(web_server: LiveServer) -> dict[str, service.Issue]:
    return discover(web_server.db)


def test_the_list_shows_the_issues_by_status_with_their_counts(page, web_server: LiveServer, issues, monkeypatch) -> None:
    at_demo_time(monkeypatch, web_server.db)
    service.update_issue(web_server.db, issues[MISROUTE].issue_id, {"status": "confirmed"})
    page.goto(f"{web_server.url}/")
    page.click("nav.top >> text=Issues")
    expect(page).to_have_url(re.compile(r"/issues$"))
    rows = page.locator("table.issues-list tbody tr")
    expect(rows).to_have_count(1)  # open ones first
    timeout = rows.filter(has=page.locator("a", has_text=TIMEOUT))
    expect(timeout.locator(".status")).to_have_text("open")
    expect(timeout.locator(".status")).to_have_class(re.compile(r"\bopen\b"))
    expect(timeout.locator(".severity")).to_have_text("high")
    expect(timeout).to_contain_text("Timeout Issues")
    expect(timeout.locator("td.traces")).to_have_text("2")
    expect(timeout.locator("td.week")).to_have_text("10.0%")  # 2 of the 20 traces of the last 7 days
    expect(timeout.locator(".preview")).to_have_text("2 traces: coverage-api.northwind.internal (OR region) did not answer within 5.0 s")
    page.click("button[name=status-all]")
    expect(rows).to_have_count(2)
    expect(rows.locator("a")).to_have_text([TIMEOUT, MISROUTE])
    expect(rows.nth(1).locator(".status")).to_have_text("confirmed")
    page.click("button[name=status-rejected]")
    expect(page.locator(".issues .empty")).to_contain_text("No rejected issues: find them with tracejudge issues discover or DiscoverIssues")
    page.click("button[name=status-confirmed]")
    expect(rows).to_have_count(1)
    rows.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/issues/{issues[MISROUTE].issue_id}$"))
    expect(page.locator(".issue-header h1")).to_have_text(MISROUTE)
    assert page.problems == []


def test_the_issue_page_shows_its_prevalence_and_evidence_whose_links_open_the_trace_at_the_span(
    page, web_server: LiveServer, issues, monkeypatch
) -> None:
    at_demo_time(monkeypatch, web_server.db)
    issue = service.get_issue(web_server.db, issues[TIMEOUT].issue_id)
    page.goto(f"{web_server.url}/issues/{issue.issue_id}")
    header = page.locator(".issue-header")
    expect(header.locator("h1")).to_have_text(TIMEOUT)
    expect(header.locator(".status")).to_have_text("open")
    expect(header.locator(".severity")).to_have_text("high")
    expect(header.locator("[data-fact=category] dd")).to_have_text("Timeout Issues")
    expect(header.locator("[data-fact=traces] dd")).to_have_text("2")
    expect(header.locator("[data-fact='first seen'] dd")).to_have_text(issue.first_seen[:19].replace("T", " "))
    expect(page.locator(".description")).to_have_text(issue.description)
    expect(page.locator(".root-cause")).to_contain_text("no hypothesis yet")
    expect(page.locator(".prevalence")).to_have_text(
        "10.0% of the traces started in the last 7 days (2 of 20), against – in the 7 days before ↑ new")
    rows = page.locator("table.evidence tbody tr")
    expect(rows).to_have_count(2)
    for evidence in issue.evidence:
        row = page.locator(f"table.evidence tr[data-trace='{evidence.trace_id}']")
        expect(row.locator("a")).to_have_attribute("href", f"/traces/{evidence.trace_id}?span={evidence.span_id}")
        expect(row).to_contain_text("error span")
        expect(row.locator(".excerpt")).to_have_text("coverage-api.northwind.internal (OR region) did not answer within 5.0 s")
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "issue-page")
    first = issue.evidence[0]
    page.locator(f"table.evidence tr[data-trace='{first.trace_id}'] a").click()
    expect(page).to_have_url(re.compile(rf"/traces/{first.trace_id}\?span={first.span_id}$"))
    expect(page.locator(".span-panel .ids code")).to_have_text(first.span_id)
    expect(page.locator(".span-panel h2")).to_have_text("execute_tool check_coverage")
    expect(page.locator(".tree .row.selected")).to_have_attribute("data-span-id", first.span_id)
    page.go_back()
    expect(page.locator(".issue-header h1")).to_have_text(TIMEOUT)
    assert page.problems == []


def test_the_misroutes_evidence_opens_each_trace_at_its_root_span(page, web_server: LiveServer, issues) -> None:
    page.goto(f"{web_server.url}/issues/{issues[MISROUTE].issue_id}")
    roots = dict(web_server.db.reader().execute("SELECT trace_id, root_span_id FROM traces"))
    rows = page.locator("table.evidence tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".excerpt")).to_have_text([MISROUTE_RATIONALE] * 2)
    expect(rows.first).to_contain_text("routing")
    trace_id = rows.first.get_attribute("data-trace")
    assert trace_id in misrouted(web_server.db)
    rows.first.locator("a").click()
    expect(page.locator(".span-panel .ids code")).to_have_text(roots[trace_id])
    expect(page.locator(".tree .row.selected")).to_have_attribute("data-span-id", roots[trace_id])
    assert page.problems == []


def test_the_evidence_pages_by_token(page, web_server: LiveServer, issues) -> None:
    new_agent_traces(web_server.db)  # a third round: 30 traces, each made evidence of the timeout below
    roots = list(web_server.db.reader().execute("SELECT trace_id, root_span_id FROM traces"))
    issue = service.store.get_issue(web_server.db, issues[TIMEOUT].issue_id)
    evidence = [Evidence(trace_id=t, span_id=s, excerpt=f"seen in {t}", source="a test") for t, s in roots]
    assert service.store.save_issue(web_server.db, issue, evidence, issue.signatures) == 28
    page.goto(f"{web_server.url}/issues/{issue.issue_id}")
    rows = page.locator("table.evidence tbody tr")
    expect(rows).to_have_count(20)
    first = rows.first.get_attribute("data-trace")
    page.click(".pager button:has-text('Next')")
    expect(page.locator(".pager span")).to_have_text("page 2")
    expect(rows).to_have_count(10)
    shown = {rows.nth(i).get_attribute("data-trace") for i in range(10)}
    expect(page.locator(".pager button:has-text('Next')")).to_be_disabled()
    page.click(".pager button:has-text('Previous')")
    expect(rows).to_have_count(20)
    expect(rows.first).to_have_attribute("data-trace", first)
    assert first not in shown and len(shown) == 10
    assert page.problems == []


def _long_trace(tracer) -> tuple[str, str]:
    with tracer.start_as_current_span("invoke_agent long") as root:
        for call in range(400):
            with tracer.start_as_current_span(f"execute_tool step_{call}") as step:
                step.set_attribute("gen_ai.operation.name", "execute_tool")
    return f"{root.get_span_context().trace_id:032x}", f"{step.get_span_context().span_id:016x}"


def test_a_span_far_down_a_long_trace_opened_from_its_url_is_scrolled_into_view(page, web_server: LiveServer) -> None:
    trace_id, last = send_trace(web_server, _long_trace)
    page.goto(f"{web_server.url}/traces/{trace_id}?span={last}")
    expect(page.locator(".span-panel h2")).to_have_text("execute_tool step_399")
    selected = page.locator(".tree .row.selected")
    expect(selected).to_have_attribute("data-span-id", last)
    expect(selected).to_be_in_viewport()
    page.locator(".tree .row", has_text="execute_tool step_398").click()  # a click in view selects without scrolling
    expect(page).to_have_url(re.compile(r"\?span="))
    expect(page.locator(".span-panel h2")).to_have_text("execute_tool step_398")
    assert page.problems == []


def test_confirm_and_severity_change_the_issue_on_the_page_and_in_the_store(page, web_server: LiveServer, issues) -> None:
    issue_id = issues[TIMEOUT].issue_id
    page.goto(f"{web_server.url}/issues/{issue_id}")
    status = page.locator(".issue-header .status")
    expect(status).to_have_text("open")
    expect(page.locator(".curation button")).to_have_text(["Confirm", "Reject", "Resolve"])
    page.click("button[name=confirm]")
    expect(status).to_have_text("confirmed")
    expect(page.locator(".curation button")).to_have_text(["Reject", "Resolve", "Reopen"])
    assert service.get_issue(web_server.db, issue_id).status == "confirmed"
    page.select_option("select[name=severity]", "critical")
    expect(page.locator(".issue-header .severity")).to_have_text("critical")
    assert service.get_issue(web_server.db, issue_id).severity == "critical"
    page.click("button[name=resolve]")
    expect(status).to_have_text("resolved")
    page.click("button[name=reopen]")
    expect(status).to_have_text("open")
    stored = service.get_issue(web_server.db, issue_id)
    assert (stored.status, stored.severity) == ("open", "critical")
    assert page.problems == []


def test_a_dataset_made_of_an_issue_is_stored_and_linked(page, web_server: LiveServer, issues) -> None:
    issue_id = issues[TIMEOUT].issue_id
    name = f"issue-{issue_id.removeprefix('iss-')}"
    page.goto(f"{web_server.url}/issues/{issue_id}")
    page.click("button[name=dataset]")
    saved = page.locator(".make-dataset .saved")
    expect(saved).to_contain_text(f"open {name}")
    assert resolve_version(web_server.db, name, None)
    saved.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/datasets/{name}$"))
    expect(page.locator("table.records tbody tr")).to_have_count(1)  # both rounds asked the same question
    assert page.problems == []


def test_a_merged_issue_links_to_the_one_it_joined(page, web_server: LiveServer, issues) -> None:
    into, other = issues[TIMEOUT].issue_id, issues[MISROUTE].issue_id
    service.update_issue(web_server.db, other, {}, merge_into=into)
    page.goto(f"{web_server.url}/issues/{other}")
    expect(page.locator("table.evidence")).to_have_count(0)
    expect(page.locator(".issue .empty").first).to_have_text("No traces show this issue now: they moved with the merge.")
    page.locator("[data-fact='merged into'] a").click()
    expect(page).to_have_url(re.compile(rf"/issues/{into}$"))
    expect(page.locator("table.evidence tbody tr")).to_have_count(4)
    assert page.problems == []


def test_an_unknown_issue_and_no_issues_say_what_to_do(page, web_server: LiveServer) -> None:
    page.goto(f"{web_server.url}/issues")
    expect(page.locator(".issues .empty")).to_contain_text("No open issues: find them with tracejudge issues discover or DiscoverIssues")
    page.goto(f"{web_server.url}/issues/iss-nobody")
    expect(page.locator(".error")).to_have_text(
        "issue 'iss-nobody' is not in this store; call ListIssues to see the issues it holds, or DiscoverIssues to find them.")
    expect(page.locator("a", has_text="← issues")).to_have_attribute("href", "/issues")
    assert page.problems == ["console: Failed to load resource: the server responded with a status of 404 (Not Found)"]


@pytest.fixture
def read_only_server(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, service.Issue]]]:
    server = demo_server(tmp_path, read_only=True)
    db = Database(tmp_path / "web.db")
    try:
        found = discover(db)
    finally:
        db.close()
    yield server, found
    server.stop()


def test_a_read_only_server_refuses_changes_and_the_page_says_why(browser, read_only_server) -> None:
    server, issues = read_only_server
    with browser_page(browser, server) as page:
        page.goto(f"{server.url}/issues/{issues[TIMEOUT].issue_id}")
        page.click("button[name=confirm]")
        expect(page.locator(".curation .error")).to_contain_text("this server was started read-only")
        expect(page.locator(".issue-header .status")).to_have_text("open")
        page.click("button[name=dataset]")
        expect(page.locator(".make-dataset .error")).to_contain_text("so it does not change the store from its pages")
        assert service.get_issue(server.db, issues[TIMEOUT].issue_id).status == "open"
        assert page.problems == ["console: Failed to load resource: the server responded with a status of 403 (Forbidden)"] * 2


def test_a_hostile_title_and_excerpt_render_as_inert_text(page, web_server: LiveServer, issues) -> None:
    issue_id = issues[MISROUTE].issue_id
    title = f"{HOSTILE[1]} {HOSTILE[0]}"
    service.update_issue(web_server.db, issue_id, {"title": title, "root_cause": HOSTILE[2], "description": HOSTILE[3]})
    with web_server.db.transaction() as conn:  # an excerpt is the agent's own text: the store keeps it as it came
        conn.execute("UPDATE issue_evidence SET excerpt = ? WHERE issue_id = ?", (HOSTILE[1], issue_id))
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__violations = window.__violations || []).push(e.violatedDirective))")  # fmt: skip
    page.goto(f"{web_server.url}/issues")
    expect(page.locator("table.issues-list a", has_text="<img")).to_have_text(title)
    assert_inert(page)
    page.locator("table.issues-list a", has_text="<img").click()
    expect(page.locator(".issue-header h1")).to_have_text(title)
    expect(page.locator(".root-cause")).to_have_text(HOSTILE[2])
    expect(page.locator(".description")).to_have_text(HOSTILE[3])
    expect(page.locator("table.evidence .excerpt")).to_have_text([HOSTILE[1]] * 2)
    assert_inert(page)
    assert page.problems == []


def test_the_monitor_page_shows_its_alert_rule_and_the_event_it_fired(page, web_server: LiveServer) -> None:
    fired_alert(web_server)
    page.goto(f"{web_server.url}/monitors/quality")
    rule = page.locator("table.alert-rules tr[data-rule=errors-seen]")
    expect(rule.locator("code")).to_have_text("error_spans/pass_rate < 0.95")
    expect(rule.locator(".status")).to_have_text("firing")
    expect(rule.locator(".status")).to_have_class(re.compile(r"\bfiring\b"))
    expect(rule).to_contain_text("1 h")
    expect(rule.locator(".last-value")).to_have_text("90.0%10 judgments")
    expect(rule).to_contain_text("none")  # no webhook
    events = page.locator("table.alert-events tbody tr")
    expect(events).to_have_count(1)
    expect(events.locator(".chip")).to_have_text("fired")
    expect(events).to_contain_text("errors-seen")
    expect(events.locator(".rationale")).to_contain_text("quality: error_spans/pass_rate is 0.9 over the last 3600 s (10 judgments): fired")
    assert page.problems == []


def test_a_monitor_without_alert_rules_says_how_to_add_one(page, web_server: LiveServer) -> None:
    monitors.create_monitor(web_server.db, "quiet", BUILT_IN)
    page.goto(f"{web_server.url}/monitors/quiet")
    expect(page.locator(".alerts-empty")).to_have_text(
        "No alert rules: add one with tracejudge alerts create NAME --monitor quiet --when 'JUDGE/pass_rate < 0.8' "
        "or CreateAlertRule (MCP); tracejudge serve checks them as judgments come in.")
    assert page.problems == []
