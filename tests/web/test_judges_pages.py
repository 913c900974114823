"""The judges pages in a real Chromium against a real server whose judge model is the scripted
OpenAI-compatible server: a developer opens the judges, reads a built-in one, opens the builder for a
new version of their judge 'routing', writes instructions with a template variable chip, picks two
demo traces (the misrouted roaming one among them), tries the judge and reads each verdict with its
rationale (nothing stored), saves it as version 2 and reads the diff of the instructions; a judge's
hostile description, instructions and verdict render as inert text."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mcp_server.judges import service
from mcp_server.models import ModelSettings
from store import Database
from tests.support.live_server import LiveServer
from tests.support.scripted_openai import ScriptedOpenAI, json_reply, scripted_settings
from tests.web.conftest import MISROUTED, assert_inert, demo_server
from tests.web.test_pages import HOSTILE

pytestmark = pytest.mark.slow

WRONG_SPECIALIST = "A roaming charge is a billing question, but the router sent it to the product specialist."
SHOTS = os.environ.get("TRACEJUDGE_JUDGES_SHOTS")
"""A folder for this test's screenshots of every step (unset: none), to look at while changing the pages."""


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"judges-{name}.png"), full_page=True)


@pytest.fixture
def web_server(tmp_path: Path, scripted_openai: ScriptedOpenAI) -> Iterator[LiveServer]:
    """The demo server (the `page` fixture's) with the scripted judge model and a stored judge 'routing' v1."""
    server = demo_server(tmp_path, models=scripted_settings(scripted_openai).models)
    service.create_judge(server.db, "routing", "Was {{ inputs }} routed right?", models=ModelSettings(allowed_models=None))
    yield server
    server.stop()


def stored(server: LiveServer) -> tuple[int, int]:
    db = Database(server.settings.db_path)
    try:
        return tuple(db.reader().execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("assessments", "judges"))
    finally:
        db.close()


def test_build_a_new_version_try_it_on_two_traces_save_it_and_read_the_diff(
    page, web_server: LiveServer, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: json_reply(
        {"rationale": WRONG_SPECIALIST, "value": False} if "roaming in Spain" in request["messages"][1]["content"]
        else {"rationale": "The question reached the right specialist.", "value": True}))  # fmt: skip
    page.goto(f"{web_server.url}/")
    page.click("nav.top >> text=Judges")
    stored_rows = page.locator("table[data-list=stored] tbody tr")
    expect(stored_rows).to_have_count(1)
    expect(stored_rows).to_contain_text("routing")
    expect(stored_rows).to_contain_text("v1")
    builtin = page.locator("table[data-list=builtin] tr[data-judge=correctness]")
    expect(builtin).to_contain_text("llm")
    shot(page, "list")

    builtin.locator("a").click()
    expect(page.locator(".judge-header h1")).to_have_text("correctness")
    expect(page.locator(".instructions-text")).to_contain_text("{{ outputs }}")
    shot(page, "builtin")
    page.go_back()
    stored_rows.locator("a", has_text="routing").click()
    expect(page.locator(".judge-header h1")).to_have_text("routing")
    page.click("text=New version")

    expect(page.locator(".builder h1")).to_have_text("New version of routing")
    instructions = page.locator("textarea[name=instructions]")
    expect(instructions).to_have_value("Was {{ inputs }} routed right?")
    instructions.fill("Was the customer's question ")
    page.click("button[name=save]")  # CreateJudge's own check, shown where it is fixed
    expect(page.locator(".builder .error")).to_contain_text("must use at least one template variable")
    page.locator("button.variable", has_text="{{ inputs }}").click()
    page.keyboard.type(" routed to the right specialist?\nA billing question belongs to billing.")
    expect(instructions).to_have_value(
        "Was the customer's question {{ inputs }} routed to the right specialist?\nA billing question belongs to billing.")
    expect(page.locator("button.variable.used")).to_have_text("{{ inputs }}")

    picker = page.locator(".trace-picker")
    picker.locator("input[name=trace_filter]").fill(f"trace.text LIKE '%{MISROUTED}%'")
    picker.locator("button", has_text="Find").click()
    expect(picker.locator("tbody tr")).to_have_count(1)
    picker.locator("tbody tr input[type=checkbox]").check()
    picker.locator("input[name=trace_filter]").fill("")
    picker.locator("button", has_text="Find").click()
    expect(picker.locator("tbody tr")).to_have_count(10)
    picker.locator("tbody tr", has_not_text="roaming in Spain").first.locator("input[type=checkbox]").check()
    expect(picker).to_contain_text("2 of at most 5 traces picked")

    before = stored(web_server)
    page.click("button[name=try]")
    verdicts = page.locator("table.verdicts tbody tr")
    expect(verdicts).to_have_count(2, timeout=60_000)  # the server's first model call imports litellm: seconds
    misrouted = verdicts.filter(has_text="roaming in Spain")
    expect(misrouted.locator(".chip.bad")).to_have_text("false")
    expect(misrouted.locator(".rationale")).to_have_text(WRONG_SPECIALIST)
    expect(verdicts.filter(has_not_text="roaming in Spain").locator(".chip.good")).to_have_text("true")
    expect(page.locator(".trial h2")).to_contain_text("routing as v2, not saved")
    shot(page, "builder")
    assert stored(web_server) == before  # the try logged no feedback and stored no version

    page.click("button[name=save]")
    expect(page).to_have_url(re.compile(r"/judges/routing\?version=2$"))
    expect(page.locator(".judge-header")).to_contain_text("v2 of 2")
    expect(page.locator(".versions a")).to_have_count(2)
    expect(page.locator(".diff-line.added")).to_have_text([
        "+Was the customer's question {{ inputs }} routed to the right specialist?",
        "+A billing question belongs to billing."])
    expect(page.locator(".diff-line.removed")).to_have_text(["-Was {{ inputs }} routed right?"])
    shot(page, "diff")
    assert stored(web_server) == (before[0], before[1] + 1)
    # The one problem is the refused save's 400, which Chromium logs for every failed request.
    assert page.problems == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]


def test_a_hostile_judge_and_verdict_render_as_inert_text(page, web_server: LiveServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.respond_with(lambda request: json_reply({"rationale": " ".join(HOSTILE), "value": HOSTILE[0]}))
    operator = ModelSettings(allowed_models=None)
    service.create_judge(web_server.db, "hostile", f"{HOSTILE[1]} {{{{ inputs }}}}", models=operator, description=HOSTILE[0],
                         output={"kind": "text"})  # fmt: skip
    service.create_judge(web_server.db, "hostile", f"{HOSTILE[0]}\n{{{{ outputs }}}}", models=operator, output={"kind": "text"})
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__violations = window.__violations || []).push(e.violatedDirective))")  # fmt: skip
    page.goto(f"{web_server.url}/judges")
    page.locator("table[data-list=stored] a", has_text="hostile").click()
    expect(page.locator(".instructions-text")).to_contain_text(HOSTILE[0])
    expect(page.locator(".diff-line.removed")).to_have_text([f"-{HOSTILE[1]} {{{{ inputs }}}}"])
    page.click("text=New version")
    page.locator(".trace-picker tbody tr input[type=checkbox]").first.check()
    page.click("button[name=try]")
    expect(page.locator("table.verdicts .rationale")).to_have_text(" ".join(HOSTILE), timeout=60_000)
    assert_inert(page)
    assert page.problems == []
