"""The pages show only the writes the signed-in token's role may make (issue 12 §4: the web UI hides
what the server refuses): a read token, signed in through the page's form, reads a trace and the
judges, datasets, monitors, issues, prompts and labeling pages with no write control on them; a write
token sees feedback, datasets, labeling, prompt aliases and issue curation but not running a judge,
the builder's try and save, or pausing and backfilling a monitor; the server's own token (admin)
sees them all. The top bar names the token and its role, as text whatever the name holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from mcp_server.access.service import create_token
from mcp_server.demo.target import ROUTER_PROMPT
from mcp_server.labeling import links
from mcp_server.monitors import service as monitors
from tests.support.live_server import LiveServer
from tests.web.conftest import assert_inert, browser_page, demo_server, in_a_thread, save_screenshot
from tests.web.test_api import tool
from tests.web.test_data_api import DATASET, EVERY_TRACE
from tests.web.test_issues_api import MISROUTE, discover
from tests.web.test_monitors_api import BUILT_IN
from tests.web.test_pages import HOSTILE
from tests.web.test_share import BEARER, TOKEN, make_session

pytestmark = pytest.mark.slow


@dataclass
class Store:
    """A server started with TOKEN over the demo store, with something for every page to show."""

    server: LiveServer
    trace_id: str
    issue_id: str
    read: str
    write: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    server = demo_server(tmp_path_factory.mktemp("roles"), token=TOKEN)
    queued, _ = in_a_thread(make_session, server)  # the labeling session 'review'
    links.share_session(server.db, "review", labeler="ana")
    in_a_thread(tool, server, "CreateDataset", {"name": DATASET}, BEARER)
    in_a_thread(tool, server, "AddTracesToDataset", {"dataset": DATASET, "filter_string": EVERY_TRACE}, BEARER)
    monitors.create_monitor(server.db, "quality", BUILT_IN)
    issue_id = discover(server.db)[MISROUTE].issue_id
    read = create_token(server.db, "claude-code", "read").token
    write = create_token(server.db, "reviewer", "write").token
    yield Store(server, queued[0], issue_id, read, write)
    server.stop()


@contextmanager
def signed_in(browser, store: Store, token: str, shown_as: str) -> Iterator[object]:
    """A page signed in with `token` through the sign-in form, its top bar naming it `shown_as`."""
    with browser_page(browser, store.server) as page:
        page.goto(f"{store.server.url}/")
        page.fill("input[name=token]", token)
        page.click("form.signin button[type=submit]")
        expect(page.locator("nav.top .signed-in")).to_have_text(shown_as)
        expect(page.locator("table.list tbody tr").first).to_be_visible()
        yield page


def open_trace(page, store: Store) -> None:
    page.goto(f"{store.server.url}/traces/{store.trace_id}")
    expect(page.locator(".trace-header h1")).not_to_have_text("")
    expect(page.locator(".span-panel h2")).to_be_visible()


def absent(page, *locators: str) -> None:
    for selector in locators:
        expect(page.locator(selector)).to_have_count(0)


def button(page, name: str):
    return page.get_by_role("button", name=name)


def test_a_read_token_sees_every_page_with_its_data_and_no_write_control(browser, store: Store) -> None:
    with signed_in(browser, store, store.read, "claude-code · read") as page:
        open_trace(page, store)
        expect(page.locator(".trace-header .request").first).not_to_be_empty()
        for name in ("Thumbs up", "Thumbs down", "Run judge", "Add to dataset", "Add to labeling"):
            expect(button(page, name)).to_have_count(0)
        absent(page, ".feedback-form", ".trace-actions", "select[name=judge]")
        save_screenshot(page, "trace-page-read-token")

        page.goto(f"{store.server.url}/judges")
        expect(page.locator("table[data-list=builtin] tbody tr").first).to_be_visible()
        page.goto(f"{store.server.url}/judges/new?start=error_spans")
        expect(page.locator(".role-note")).to_have_text(
            "Trying and saving a judge need an admin token; this session's is a read token, so the builder is read-only.")
        expect(page.locator("input[name=name]")).to_have_value("my_error_spans")
        expect(page.locator("input[name=name]")).to_be_disabled()
        absent(page, "button[name=try]", "button[name=save]", ".trace-picker")

        page.goto(f"{store.server.url}/datasets/{DATASET}")
        expect(page.locator("table.records tbody tr")).to_have_count(10)
        expect(button(page, "Edit expectations")).to_have_count(0)

        page.goto(f"{store.server.url}/monitors/quality")
        expect(page.locator(".monitor-header .status")).to_have_text("active")
        expect(page.locator("[data-fact=judged] dd")).to_have_text("0")
        absent(page, "button[name=pause]", "form.backfill")

        page.goto(f"{store.server.url}/issues/{store.issue_id}")
        expect(page.locator("table.evidence tbody tr")).to_have_count(2)
        absent(page, ".curation", "select[name=severity]", "button[name=dataset]")

        page.goto(f"{store.server.url}/prompts/{ROUTER_PROMPT}")
        expect(page.locator("table.versions tbody tr")).to_have_count(1)
        expect(page.locator(".prompt header .facts")).to_contain_text("production")
        absent(page, ".alias-panel", "input[name=alias]")

        page.goto(f"{store.server.url}/labeling/review")
        expect(page.locator("table.list").last.locator("tbody tr")).to_have_count(3)
        expect(page.locator("table.links tbody tr")).to_have_count(1)
        expect(page.locator("table.links")).to_contain_text("ana")
        expect(button(page, "Create link")).to_have_count(0)
        expect(button(page, "Revoke")).to_have_count(0)
        absent(page, "form.share-form")
        assert page.problems == []


def test_a_write_token_gives_feedback_and_adds_to_datasets_but_runs_no_judge_or_monitor(browser, store: Store) -> None:
    with signed_in(browser, store, store.write, "reviewer · write") as page:
        open_trace(page, store)
        for name in ("Thumbs up", "Thumbs down", "Add to dataset", "Add to labeling"):
            expect(button(page, name)).to_be_visible()
        expect(button(page, "Run judge")).to_have_count(0)
        absent(page, "select[name=judge]")
        save_screenshot(page, "trace-page-write-token")
        button(page, "Thumbs up").click()  # what is shown, the server allows
        expect(page.locator(".feedback-form .ok")).to_have_text("Thanks: thumbs up recorded.")

        page.goto(f"{store.server.url}/judges/new")
        expect(page.locator(".role-note")).to_contain_text("this session's is a write token")
        absent(page, "button[name=try]", "button[name=save]")

        page.goto(f"{store.server.url}/monitors/quality")
        expect(page.locator(".monitor-header .status")).to_have_text("active")
        absent(page, "button[name=pause]", "form.backfill")

        page.goto(f"{store.server.url}/datasets/{DATASET}")
        expect(button(page, "Edit expectations")).to_have_count(10)
        page.goto(f"{store.server.url}/issues/{store.issue_id}")
        expect(page.locator(".curation select[name=severity]")).to_be_visible()
        expect(page.locator("button[name=dataset]")).to_be_visible()
        page.goto(f"{store.server.url}/prompts/{ROUTER_PROMPT}")
        expect(page.locator(".alias-panel tr[data-alias=production]")).to_be_visible()
        page.goto(f"{store.server.url}/labeling/review")
        expect(button(page, "Create link")).to_be_visible()
        expect(button(page, "Revoke")).to_have_count(1)
        assert page.problems == []


def test_the_servers_token_is_admin_and_sees_every_control(browser, store: Store) -> None:
    with signed_in(browser, store, TOKEN, "the server's token · admin") as page:
        open_trace(page, store)
        for name in ("Thumbs up", "Run judge", "Add to dataset", "Add to labeling"):
            expect(button(page, name)).to_be_visible()
        page.goto(f"{store.server.url}/judges/new")
        expect(page.locator("button[name=save]")).to_be_visible()
        expect(page.locator("button[name=try]")).to_be_visible()
        absent(page, ".role-note")
        page.goto(f"{store.server.url}/monitors/quality")
        expect(page.locator("button[name=pause]")).to_be_visible()
        expect(page.locator("form.backfill button[name=backfill]")).to_be_visible()
        page.goto(f"{store.server.url}/issues/{store.issue_id}")
        expect(page.locator(".curation")).to_be_visible()
        assert page.problems == []


def test_a_token_named_with_markup_is_named_as_text(browser, store: Store) -> None:
    name = HOSTILE[1]
    token = create_token(store.server.db, name, "read").token
    with signed_in(browser, store, token, f"{name} · read") as page:
        assert_inert(page)
        assert page.problems == []
