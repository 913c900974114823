"""The evaluation runs pages in a real Chromium against a real server: a developer opens the runs,
reads v1's report (each judge's pass rate and the per-trace verdicts with their rationales), follows a
verdict to its trace, then ticks v1 and v2 and sees what changed; two runs of the demo agent on a
dataset compare with the two answers side by side; a run still going fills in without a reload; a
run's hostile name and rationale render inert."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mcp_server.evaluation.run import evaluate
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.judges import service
from mcp_server.models import ModelSettings
from store import Database
from store.evaluations import EvaluationResult, create_run, record_results, update_run
from store.search import search_trace_ids
from tests.support.live_server import LiveServer
from tests.support.scripted_openai import ScriptedOpenAI, json_reply, scripted_settings
from tests.web.conftest import MISROUTED, STRICT_RATIONALE, assert_inert, in_a_thread, save_screenshot
from tests.web.test_pages import HOSTILE
from tests.web.test_runs import dataset_runs

pytestmark = pytest.mark.slow

def test_read_a_runs_report_follow_a_verdict_to_its_trace_and_compare_two_runs(
    page, web_server: LiveServer, two_runs: tuple[EvaluationRun, EvaluationRun]
) -> None:
    v1, v2 = two_runs
    page.goto(f"{web_server.url}/")
    page.click("nav.top >> text=Runs")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("v2")  # newest first
    expect(rows.nth(1).locator(".pass-rate", has_text="resolved")).to_contain_text("90.0%")

    rows.nth(1).locator("a", has_text="v1").click()
    expect(page.locator(".run-header h1")).to_have_text("v1")
    card = page.locator(".judge-card[data-judge=resolved]")
    expect(card.locator(".judge-pass")).to_contain_text("90.0%")
    columns = card.locator("svg[aria-label='value distribution'] rect.column")
    expect(columns).to_have_count(2)
    passed, failed_column = (columns.nth(i).bounding_box()["height"] for i in (0, 1))  # true first: 9 of them, then 1
    assert passed == pytest.approx(9 * failed_column, rel=0.05), (passed, failed_column)
    expect(page.locator(".judge-card[data-judge=tool_call_count] .judge-errors")).to_have_text("0 errors")
    results = page.locator("table.results tbody tr")
    expect(results).to_have_count(20)
    failed = results.filter(has=page.locator(".chip.bad", has_text="false"))
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(STRICT_RATIONALE[:100])
    expect(failed).not_to_contain_text(STRICT_RATIONALE[-40:])  # clipped until expanded
    failed.locator("button.more").click()
    expect(failed).to_contain_text(STRICT_RATIONALE[-40:])

    failed.locator("a").click()
    expect(page.locator(".trace-header .request").first).to_contain_text(MISROUTED)
    trace_id = page.url.rsplit("/", 1)[1]

    page.go_back()
    page.go_back()
    expect(rows).to_have_count(2)
    compare = page.locator("button", has_text="Compare")
    expect(compare).to_be_disabled()
    rows.nth(0).locator("input[type=checkbox]").check()  # v2 first: the older run is still the baseline
    rows.nth(1).locator("input[type=checkbox]").check()
    compare.click()
    expect(page).to_have_url(re.compile(rf"/runs/compare\?a={v1.run_id}&b={v2.run_id}$"))
    resolved = page.locator("table.deltas tr[data-judge=resolved]")
    expect(resolved.locator(".pass-move")).to_have_text("90.0% → 100% +10.0 pts")
    expect(resolved.locator(".pass-move .delta.good")).to_have_text("+10.0 pts")
    expect(resolved.locator(".error-move")).to_have_text("0 → 0 ±0")
    expect(page.locator(".changed-count")).to_have_text("1 of 20 compared verdicts changed: resolved 1")
    expect(page.locator("table.changed tbody tr")).to_have_count(1)
    changed = page.locator("table.changed tbody tr")
    expect(changed.locator("td").nth(2)).to_have_text("false")
    expect(changed.locator("td").nth(3)).to_have_text("true")
    expect(changed.locator("a")).to_have_attribute("href", f"/traces/{trace_id}")
    save_screenshot(page, "runs-compare")
    page.click("text=swap a and b")
    expect(page).to_have_url(re.compile(rf"/runs/compare\?a={v2.run_id}&b={v1.run_id}$"))
    expect(resolved.locator(".pass-move .delta.bad")).to_have_text("-10.0 pts")
    assert page.problems == []


def test_runs_on_a_dataset_compare_with_both_answers_side_by_side(page, web_server: LiveServer) -> None:
    before, after = dataset_runs(web_server)
    page.goto(f"{web_server.url}/runs/compare?a={before.run_id}&b={after.run_id}")
    expect(page.locator("table.changed tbody tr")).to_have_count(1)
    changed = page.locator("table.changed tbody tr")
    expect(changed.locator(".output-input")).to_contain_text("roaming in Spain")
    expect(changed.locator(".output[data-side=a]")).not_to_contain_text("loading")
    expect(changed.locator(".output[data-side=b]")).not_to_contain_text("loading")
    answers = [changed.locator(f".output[data-side={side}] .clipped").inner_text() for side in "ab"]
    assert answers[0] and answers[1] and answers[0] != answers[1]
    assert page.problems == []


def test_a_hostile_run_name_and_rationale_render_as_inert_text(
    page, web_server: LiveServer, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: json_reply({"rationale": " ".join(HOSTILE), "value": True}))
    db = Database(web_server.settings.db_path)
    try:
        service.create_judge(db, "resolved", "RESOLVED: does {{ outputs }} resolve {{ inputs }}?",
                             models=ModelSettings(allowed_models=None))  # fmt: skip
        run = in_a_thread(evaluate, db, ["resolved"], settings=scripted_settings(scripted_openai), name=HOSTILE[1])
    finally:
        db.close()
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__violations = window.__violations || []).push(e.violatedDirective))")  # fmt: skip
    page.goto(f"{web_server.url}/runs")
    page.locator("table.list a", has_text=HOSTILE[1]).click()
    expect(page.locator(".run-header h1")).to_have_text(HOSTILE[1])
    rationale = page.locator("table.results tbody tr").first.locator(".rationale")
    rationale.locator("button.more").click()
    expect(rationale).to_contain_text(" ".join(HOSTILE))
    page.goto(f"{web_server.url}/runs/compare?a={run.run_id}&b={run.run_id}")
    expect(page.locator(".brief").first).to_contain_text(HOSTILE[1])
    assert_inert(page)
    assert page.problems == []


def test_a_run_still_going_fills_in_without_a_reload(page, web_server: LiveServer) -> None:
    db = Database(web_server.settings.db_path)
    try:
        trace_ids = search_trace_ids(db, None, None, 100)
        judges = [{"name": "resolved", "version": 1, "source_id": "resolved@1", "kind": "llm"}]
        run = create_run(db, judges=judges, trace_ids=trace_ids, name="going")
        page.goto(f"{web_server.url}/runs")
        row = page.locator("table.list tbody tr", has_text="going")
        expect(row.locator(".status")).to_have_text("running")
        row.locator("a").click()
        expect(page.locator(".run-header .status")).to_have_text("running")
        verdicts = [EvaluationResult(judge="resolved", trace_id=t, source_id="resolved@1", value=n > 0)
                    for n, t in enumerate(trace_ids)]  # fmt: skip
        record_results(db, run.run_id, verdicts[:5])
        expect(page.locator("table.results tbody tr")).to_have_count(5, timeout=15_000)
        record_results(db, run.run_id, verdicts[5:])
        update_run(db, run.run_id, status="completed")
        expect(page.locator(".run-header .status")).to_have_text("completed", timeout=15_000)
        expect(page.locator(".judge-card[data-judge=resolved] .judge-pass")).to_contain_text("90.0%")
        expect(page.locator("table.results tbody tr")).to_have_count(10)
    finally:
        db.close()
    assert page.problems == []
