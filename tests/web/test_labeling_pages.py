"""The labeling pages in a real Chromium against a real server started with a token: a developer signs
in, shares a session from its page; a domain expert opens the link in a fresh browser, labels three
traces as a conversation with the session's questions, and the labels are what JudgeAgreement
compares the judge with; with the link alone, no other page, trace, API route or MCP opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import expect

from tests.support.live_server import LiveServer
from tests.web.conftest import demo_server, in_a_thread, save_screenshot
from tests.web.test_api import tool
from tests.web.test_share import BEARER, TOKEN, make_session

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = demo_server(tmp_path, token=TOKEN)
    yield live
    live.stop()


def watched(context: Any, server: LiveServer) -> Any:
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("request", lambda r: r.url.startswith(server.url) or page.problems.append(f"request: {r.url}"))
    return page


async def judge_verdicts(server: LiveServer, trace_ids: list[str], values: list[bool]) -> None:
    """A judge's verdicts named as the schema (what Evaluate would store), for JudgeAgreement to pair."""
    for trace_id, value in zip(trace_ids, values, strict=True):
        await tool(server, "LogFeedback", {"trace_id": trace_id, "name": "routing_correct", "value": value,
                                           "source_type": "LLM_JUDGE", "source_id": "routing_correct@1"}, BEARER)  # fmt: skip


def test_an_expert_labels_three_traces_from_a_shared_link_and_reaches_nothing_else(browser, server: LiveServer) -> None:
    queued, others = in_a_thread(make_session, server)
    in_a_thread(judge_verdicts, server, queued, [True, True, False])

    # The developer signs in and makes a link for ann on the session's page.
    developer = browser.new_context(viewport={"width": 1300, "height": 900})
    page = watched(developer, server)
    page.goto(f"{server.url}/labeling")
    page.fill("input[name=token]", TOKEN)
    page.click("form.signin button[type=submit]")
    schemas = page.locator("table.schemas tbody tr")
    expect(schemas).to_have_count(2)
    expect(schemas.filter(has_text="routing_correct")).to_contain_text("Did the router pick the right specialist?")
    expect(schemas.filter(has_text="department")).to_contain_text("one of 'billing', 'technical', 'sales'")
    page.get_by_role("link", name="review").click()
    expect(page.get_by_text("Share with a domain expert")).to_be_visible()
    page.fill("input[name=labeler]", "ann")
    page.click("text=Create link")
    link = page.locator("input.link-url").input_value()
    assert link.startswith(f"{server.url}/label#tjl_")
    assert page.problems == []

    # The expert: a fresh browser, no cookie, no token but the link's.
    expert = browser.new_context(viewport={"width": 1300, "height": 900})
    label = watched(expert, server)
    label.goto(link)
    expect(label.get_by_text("0 of 3 done")).to_be_visible()
    expect(label.get_by_text("Labeling as")).to_be_visible()
    answers = [("Pass", "billing"), ("Fail", "technical"), ("Fail", "sales")]
    for n, (verdict, department) in enumerate(answers):
        conversation = label.locator("section.label-trace")
        expect(conversation.get_by_text("The agent's answer")).to_be_visible()
        if n == 0:  # the agent's steps are closed until opened, and their content loads when they open
            conversation.get_by_text("steps", exact=False).first.click()
            conversation.locator("details.step summary").first.click()
            expect(conversation.locator("details.step .step-body").first).to_be_visible()
        form = label.locator("form.questions")
        form.get_by_role("radio", name=verdict).click()
        form.get_by_role("radio", name=department, exact=True).click()
        if verdict == "Fail":
            form.get_by_label("comment on routing_correct").fill(f"wrong specialist; should be {department}")
            save_screenshot(label, "labeling-page")
        form.get_by_role("button", name="Submit").click()
        expect(label.get_by_text(f"{n + 1} of 3 done")).to_be_visible()
    expect(label.get_by_text("All done")).to_be_visible()
    assert label.problems == []

    # The labels are ann's HUMAN assessments, and JudgeAgreement pairs them with the judge's verdicts.
    agreement = in_a_thread(tool, server, "JudgeAgreement", {"judge": "routing_correct"}, BEARER)
    assert agreement["pairs"] == 3
    assert agreement["confusion_matrix"] == {"true": {"true": 1}, "false": {"true": 1, "false": 1}}
    assert [d["trace_id"] for d in agreement["disagreements"]] == [queued[1]]
    items = in_a_thread(tool, server, "ListLabelingItems", {"session": "review"}, BEARER)
    assert {label["labeler"] for item in items["items"] for label in item["labels"]} == {"ann"}

    # With the link alone, nothing else opens: the other pages ask to sign in, and the APIs refuse.
    for path in ("/", f"/traces/{others[0]}", "/labeling"):
        label.goto(f"{server.url}{path}")
        expect(label.locator("form.signin")).to_be_visible()
    token = link.split("#", 1)[1]
    for path in (f"/api/traces/{others[0]}", "/api/traces", "/api/labeling/sessions", f"/api/label/traces/{others[0]}"):
        answer = label.request.get(f"{server.url}{path}", headers={"x-tracejudge-link": token})
        assert answer.status in (401, 404), path
    assert httpx2.post(f"{server.url}/mcp", headers={"authorization": f"Bearer {token}"}, json={}).status_code == 401
    developer.close()
    expert.close()


def test_a_revoked_link_says_so_on_the_page(browser, server: LiveServer) -> None:
    in_a_thread(make_session, server)
    made = httpx2.post(f"{server.url}/api/labeling/sessions/review/links", headers={**BEARER, "x-tracejudge-request": "1"},
                       json={"labeler": "ann"}).json()  # fmt: skip
    httpx2.post(f"{server.url}/api/labeling/links/{made['link_id']}/revoke", headers={**BEARER, "x-tracejudge-request": "1"}, json={})
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}{made['path']}")
    expect(page.get_by_role("alert")).to_contain_text("revoked")
    page.goto(f"{server.url}/label")
    expect(page.get_by_role("alert")).to_contain_text("has no token")
    context.close()


def test_a_developer_queues_the_trace_they_read_in_a_labeling_session(browser, server: LiveServer) -> None:
    queued, others = in_a_thread(make_session, server)
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = watched(context, server)
    page.goto(f"{server.url}/traces/{others[0]}")
    page.fill("input[name=token]", TOKEN)
    page.click("form.signin button[type=submit]")
    page.get_by_role("button", name="Add to labeling").click()
    expect(page.locator(".trace-actions .ok")).to_have_text("Queued in review.")
    page.get_by_role("button", name="Add to labeling").click()
    expect(page.locator(".trace-actions .ok")).to_have_text("Already queued in review.")
    items = in_a_thread(tool, server, "ListLabelingItems", {"session": "review"}, BEARER)
    assert [item["trace_id"] for item in items["items"]] == [*queued, others[0]]
    page.locator(".trace-actions .ok a").click()
    expect(page.locator("table.list tbody tr")).to_have_count(4)
    assert page.problems == []
    context.close()
