"""The monitors pages in a real Chromium against a real server over the demo store, whose monitor
'quality' (error_spans, latency and a code judge that fails on two traces) a real MonitorRunner judged,
4 traces three hours ago and 6 now: the list shows it with its status, counts and sparklines; its page
charts each judge per hour and per day with the store's figures, pauses and resumes it, backfills and
follows the judging, and links each result to its trace; an unknown monitor and a read-only server
say so; a hostile filter and judge error render as inert text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mcp_server.monitors import service
from tests.support.live_server import LiveServer
from tests.web.conftest import assert_inert, browser_page, demo_server, save_screenshot
from tests.web.test_monitors_api import BUILT_IN, JUDGES, judge_queued, monitor_over_two_hours, stored
from tests.web.test_pages import HOSTILE

pytestmark = pytest.mark.slow

HOSTILE_FILTER = """trace.text LIKE '%<img src=x onerror="window.__pwned = 1">%' OR trace.status = 'OK'"""


def hostile(trace) -> bool:
    """A code judge whose every error is markup."""
    raise ValueError(HOSTILE[0] + HOSTILE[1])


@pytest.fixture
def monitored(web_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    monitor_over_two_hours(web_server.db, monkeypatch)
    return web_server


def percent(rate: float) -> str:
    """As the pages write a rate (lib.js percent)."""
    return f"{rate * 100:.0f}%" if rate == 1 else f"{rate * 100:.1f}%"


def period(start: str, granularity: str) -> str:
    """As the charts name a period: '2026-12-04 19:00' or '2026-12-04' (UTC)."""
    return f"{start[:10]} {start[11:16]}" if granularity == "hour" else start[:10]


def test_the_list_shows_each_monitor_with_its_status_counts_and_pass_rate_sparklines(page, monitored: LiveServer) -> None:
    service.create_monitor(monitored.db, "nightly", BUILT_IN, filter_string="trace.status = 'ERROR'", sample_rate=0.25)
    service.update_monitor(monitored.db, "nightly", {"paused": True})
    page.goto(f"{monitored.url}/")
    page.click("nav.top >> text=Monitors")
    expect(page).to_have_url(re.compile(r"/monitors$"))
    rows = page.locator("table.monitors-list tbody tr")
    expect(rows).to_have_count(2)
    quality = rows.filter(has=page.locator("a", has_text="quality"))
    expect(quality.locator(".status")).to_have_text("active")
    expect(quality.locator(".status")).to_have_class(re.compile(r"\bactive\b"))
    expect(quality.locator("td.judged")).to_have_text("10")
    # "today" is the UTC day: the judgments of three hours ago are yesterday's just after midnight.
    expect(quality.locator("td.today")).to_contain_text(f"{stored(monitored).today.judgments} judged")
    expect(quality).to_contain_text("error_spans, latency, unsure")
    metrics = service.get_monitor(monitored.db, "quality").metrics
    for judge in JUDGES:
        points = [p for p in metrics if p.judge == judge]
        spark = quality.locator(f".pass-rate[data-judge={judge}]")
        expect(spark.locator("g.slot")).to_have_count(24)
        expect(spark.locator("rect.column")).to_have_count(len(points))
        expect(spark.locator(".rate")).to_have_text(percent(points[-1].pass_rate))
    nightly = rows.filter(has=page.locator("a", has_text="nightly"))
    expect(nightly.locator(".status")).to_have_text("paused")
    expect(nightly).to_contain_text("UpdateMonitor(paused=false) resumes it")
    expect(nightly).to_contain_text("trace.status = 'ERROR'")
    expect(nightly.locator("td.num").first).to_have_text(percent(0.25))
    expect(nightly.locator("rect.column")).to_have_count(0)
    quality.locator("a", has_text="quality").click()
    expect(page).to_have_url(re.compile(r"/monitors/quality$"))
    expect(page.locator(".monitor-header h1")).to_have_text("quality")
    assert page.problems == []


def test_the_monitor_page_charts_each_judge_per_hour_and_per_day_as_the_store_says(page, monitored: LiveServer) -> None:
    page.goto(f"{monitored.url}/monitors/quality")
    header = page.locator(".monitor-header")
    expect(header.locator(".status")).to_have_text("active")
    expect(header.locator("[data-fact=judged] dd")).to_have_text("10")
    today = stored(monitored).today.judgments  # 10, or 6 in the three hours after midnight UTC
    expect(header.locator("[data-fact=today] dd")).to_have_text(f"{today} judged · 0 tokens · $0.0000")
    expect(page.locator("[data-fact=judges] dd")).to_have_text("error_spans (code), latency (code), unsure (code)")
    expect(page.locator("[data-fact='sample rate'] dd")).to_have_text("100%")
    expect(page.locator("[data-fact=filter] dd")).to_have_text("every trace")
    expect(page.locator("[data-fact=timeout] dd")).to_have_text("600 s")
    expect(page.locator("[data-fact='cost / day'] dd")).to_have_text("none")
    for granularity, slots in (("hour", 24), ("day", 30)):
        if granularity == "day":
            page.click("button[name=per-day]")
            expect(page.locator("button[name=per-day]")).to_have_attribute("aria-pressed", "true")
        metrics = service.get_monitor(monitored.db, "quality", granularity=granularity).metrics
        for judge in JUDGES:
            points = [p for p in metrics if p.judge == judge]
            card = page.locator(f".monitor-judge[data-judge={judge}]")
            rates = card.locator("[data-chart=pass-rate]")
            expect(rates.locator("figcaption")).to_have_text(f"pass rate per {granularity} (UTC)")
            expect(rates.locator("g.slot")).to_have_count(slots)
            expect(rates.locator("rect.column")).to_have_count(len(points))
            expect(rates.locator("g.slot:not(.empty) title")).to_have_text([
                f"{period(p.start, granularity)}: pass rate {percent(p.pass_rate)} ({p.judgments} judgments, {p.errors} errors)"
                for p in points])
            expect(rates.locator("text.tick")).to_have_text(["0%", "50%", "100%"])  # a labelled y axis
            expect(rates.locator("text.label").last).to_have_text(
                points[-1].start[11:16] if granularity == "hour" else points[-1].start[5:10])  # the newest period
            judgments = card.locator("[data-chart=judgments]")
            expect(judgments.locator("rect.column")).to_have_count(len(points))
            expect(judgments.locator("rect.part")).to_have_count(sum(1 for p in points if p.errors))
            expect(judgments.locator("g.slot:not(.empty) title")).to_have_text([
                f"{period(p.start, granularity)}: {p.judgments} judgments, {p.errors} errors" for p in points])
            expect(card.locator(".latest")).to_contain_text(f"latest {granularity}: {percent(points[-1].pass_rate)} pass")
        error_spans = [p for p in metrics if p.judge == "error_spans"]
        assert sum(p.pass_rate * p.judgments for p in error_spans) == 9  # one demo trace has an error span
        expect(page.locator(".cost-note")).to_have_text(f"No model spend in these {granularity}s: code judges cost nothing.")
    page.click("button[name=per-hour]")
    expect(page.locator("[data-judge=error_spans] [data-chart=pass-rate] g.slot")).to_have_count(24)
    results = page.locator("table.recent tbody tr")
    expect(results).to_have_count(20)
    expect(results.filter(has_text="unsure").filter(has_text="no verdict for a trace like this").first).to_be_visible()
    page.locator("table.recent").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "monitor-page")
    first = results.first.locator("a")
    trace_id = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(rf"/traces/{trace_id}$"))
    expect(page.locator(".tree .row").first).to_be_visible()
    assert page.problems == []


def test_pause_and_resume_change_the_status_shown_and_stored(page, monitored: LiveServer) -> None:
    page.goto(f"{monitored.url}/monitors/quality")
    status = page.locator(".monitor-header .status")
    expect(status).to_have_text("active")
    page.click("button[name=pause]")
    expect(status).to_have_text("paused")
    expect(page.locator(".status-message")).to_contain_text("no trace is judged until UpdateMonitor(paused=false)")
    expect(page.locator("button[name=pause]")).to_have_text("Resume")
    assert stored(monitored).status == "paused"
    page.click("button[name=pause]")
    expect(status).to_have_text("active")
    expect(page.locator("button[name=pause]")).to_have_text("Pause")
    assert stored(monitored).status == "active"
    assert page.problems == []


def test_backfill_reports_its_message_and_the_page_follows_the_judging(page, web_server: LiveServer) -> None:
    service.create_monitor(web_server.db, "fresh", BUILT_IN)
    page.goto(f"{web_server.url}/monitors/fresh")
    expect(page.locator(".monitor .empty").first).to_contain_text("No judgments in the last 24 hours")
    expect(page.locator("table.recent")).to_have_count(0)
    form = page.locator("form.backfill")
    form.locator("button[name=backfill]").click()  # the last 24 hours: the demo's traces are older
    expect(form.locator(".saved")).to_have_text(
        "0 traces queued (0 left out by sample_rate=1); `tracejudge serve` judges them next; GetMonitor shows them as they are judged.")
    form.locator("select[name=since]").select_option("all")
    form.locator("button[name=backfill]").click()
    expect(form.locator(".saved")).to_contain_text("10 traces queued (0 left out by sample_rate=1); `tracejudge serve` judges them next")
    expect(page.locator("[data-fact=queued] dd")).to_have_text("10")
    assert judge_queued(web_server.db) == 10
    # The page follows a monitor that has traces queued: no reload.
    expect(page.locator("[data-fact=judged] dd")).to_have_text("10")
    expect(page.locator("[data-fact=queued] dd")).to_have_text("0")
    expect(page.locator(".monitor-judge")).to_have_count(2)
    expect(page.locator("table.recent tbody tr")).to_have_count(20)
    assert page.problems == []


def test_no_monitors_says_how_to_create_one_and_an_unknown_monitor_says_what_to_do(page, web_server: LiveServer) -> None:
    page.goto(f"{web_server.url}/monitors")
    expect(page.locator(".monitors .empty")).to_contain_text("create one with tracejudge monitors create NAME --judge JUDGE")
    page.goto(f"{web_server.url}/monitors/nobody")
    expect(page.locator(".error")).to_have_text(
        "monitor 'nobody' is not in this store; call ListMonitors to see the monitors it holds, or CreateMonitor to make one.")
    expect(page.locator("a", has_text="← monitors")).to_have_attribute("href", "/monitors")
    assert page.problems == ["console: Failed to load resource: the server responded with a status of 404 (Not Found)"]


@pytest.fixture
def read_only_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = demo_server(tmp_path, read_only=True)
    service.create_monitor(server.db, "quality", BUILT_IN)
    yield server
    server.stop()


def test_a_read_only_server_refuses_pause_and_the_page_says_why(browser, read_only_server: LiveServer) -> None:
    with browser_page(browser, read_only_server) as page:
        page.goto(f"{read_only_server.url}/monitors/quality")
        page.click("button[name=pause]")
        expect(page.locator(".pause .error")).to_contain_text("this server was started read-only")
        expect(page.locator(".monitor-header .status")).to_have_text("active")
        page.locator("form.backfill select[name=since]").select_option("all")
        page.click("button[name=backfill]")
        expect(page.locator("form.backfill .error")).to_contain_text("so it does not change the store from its pages")
        assert stored(read_only_server).status == "active" and stored(read_only_server).counts.queued == 0
        assert page.problems == ["console: Failed to load resource: the server responded with a status of 403 (Forbidden)"] * 2


def test_a_hostile_filter_and_judge_error_render_as_inert_text(page, web_server: LiveServer) -> None:
    service.create_monitor(web_server.db, "hostile", ["tests.web.test_monitors_pages:hostile"], filter_string=HOSTILE_FILTER,
                           allow_import=True)  # fmt: skip
    assert service.backfill(web_server.db, "hostile").queued == 10
    assert judge_queued(web_server.db) == 10
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__violations = window.__violations || []).push(e.violatedDirective))")  # fmt: skip
    page.goto(f"{web_server.url}/monitors")
    expect(page.locator("table.monitors-list tbody tr .preview code")).to_have_text(HOSTILE_FILTER)
    assert_inert(page)
    page.locator("table.monitors-list a", has_text="hostile").click()
    expect(page.locator("[data-fact=filter] dd")).to_have_text(HOSTILE_FILTER)
    error = page.locator("table.recent tbody tr").first.locator(".rationale")
    expect(error).to_contain_text(f"raised ValueError: {HOSTILE[0]}{HOSTILE[1]}")
    expect(page.locator("[data-judge=hostile] [data-chart=judgments] rect.part")).to_have_count(1)
    assert_inert(page)
    assert page.problems == []
