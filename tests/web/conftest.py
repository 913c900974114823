"""Fixtures of the web UI's tests: a real server over the demo store, two evaluation runs over its
traces made by the real Evaluate service (an LLM judge answered by the scripted OpenAI-compatible
server), and a real Chromium (Debian's, driven by Playwright; never a downloaded browser) with a
page that records every console error and outside request."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from mcp_server.demo.load import load_demo
from mcp_server.evaluation.run import evaluate
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.judges import service
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database
from tests.support.live_server import LiveServer, start_live_server
from tests.support.scripted_openai import Reply, ScriptedOpenAI, json_reply, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]

T = TypeVar("T")

MISROUTED = "Why was I charged for roaming in Spain?"
"""The demo trace whose customer the router sent to the wrong specialist."""
STRICT_RATIONALE = (
    "The customer asks about a roaming charge, which is a billing question, but the router handed the "
    "conversation to the product specialist, so the answer talks about plans and never explains the charge; "
    "the question is not resolved."
)

EXPECT_TIMEOUT_MS = 15_000
"""How long an `expect` waits for the page (Playwright's default is 5 s): a 2-core CI machine running
the suite can take longer than that to answer a page's requests, and a wait that ends early only
makes a test flaky, never faster."""

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    """TRACEJUDGE_TEST_CHROMIUM, else Debian's /usr/bin/chromium, else chromium on PATH."""
    for candidate in (os.environ.get("TRACEJUDGE_TEST_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "the browser tests need Chromium: on Debian or Ubuntu `apt-get install -y chromium` (.ci/run does), "
            "or set TRACEJUDGE_TEST_CHROMIUM to a Chromium binary"
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


SCREENSHOTS = "TRACEJUDGE_SCREENSHOTS"
"""A folder to save the README's screenshots in, as the tests reach each page (unset: none are saved):
TRACEJUDGE_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/web -m slow"""


def assert_inert(page: object) -> None:
    """What the hostile-content tests ask of a page that showed markup from the store: no script of it
    ran (window.__pwned unset), the CSP saw no violation (pages that record them in window.__violations),
    no image element was made and no script element is in main, and every link is one of our routes."""
    assert page.evaluate("window.__pwned") is None  # type: ignore[attr-defined]
    assert page.evaluate("window.__violations || []") == []  # type: ignore[attr-defined]
    assert page.locator("img").count() == 0 and page.locator("main script").count() == 0  # type: ignore[attr-defined]
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")  # type: ignore[attr-defined]
    assert all(href.startswith("/") for href in hrefs), hrefs


def save_screenshot(page: object, name: str) -> None:
    """The page as it is now, as <name>.png in the TRACEJUDGE_SCREENSHOTS folder, when that is set."""
    if folder := os.environ.get(SCREENSHOTS):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))  # type: ignore[attr-defined]


def demo_server(folder: Path, **settings: object) -> LiveServer:
    path = folder / "web.db"
    db = Database(path)
    load_demo(db)
    db.close()
    return start_live_server(Settings(db_path=path, port=0, **settings))


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server over a fresh copy of the demo store, without a token."""
    server = demo_server(tmp_path)
    yield server
    server.stop()


@contextmanager
def browser_page(browser, server: LiveServer) -> Iterator[object]:
    """A page of a fresh browser context that records in `page.problems` every console error, page
    error, dialog and request to anywhere but `server`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.problems = []  # console errors, page errors, and requests to anywhere but the server
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("request", lambda r: r.url.startswith(server.url) or page.problems.append(f"request: {r.url}"))
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, web_server: LiveServer) -> Iterator[object]:
    with browser_page(browser, web_server) as page:
        yield page


def in_a_thread(function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Await `function` in a thread of its own: Playwright's sync API holds this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, functools.partial(function, *args, **kwargs)).result(timeout=120)


def _resolved(request: dict) -> Reply:
    """Judge 'resolved': version 1 fails the misrouted trace, version 2 (lenient) passes everything."""
    prompt = request["messages"][1]["content"]
    if prompt.startswith("RESOLVED v1") and "roaming in Spain" in prompt:
        return json_reply({"rationale": STRICT_RATIONALE, "value": False}, prompt_tokens=400, completion_tokens=60)
    return json_reply({"rationale": "The answer addresses the question.", "value": True},
                      prompt_tokens=400, completion_tokens=20)  # fmt: skip


@pytest.fixture
def two_runs(web_server: LiveServer, scripted_openai: ScriptedOpenAI) -> tuple[EvaluationRun, EvaluationRun]:
    """Runs 'v1' and 'v2' of the judges 'resolved' (an LLM judge, changed between them) and
    tool_call_count (built in) over the demo traces, stored in the web server's store."""
    scripted_openai.respond_with(_resolved)
    settings = scripted_settings(scripted_openai)
    operator = ModelSettings(allowed_models=None)
    db = Database(web_server.settings.db_path)
    try:
        runs = []
        for version in ("v1", "v2"):
            service.create_judge(db, "resolved", f"RESOLVED {version}: does {{{{ outputs }}}} resolve {{{{ inputs }}}}?",
                                 models=operator)  # fmt: skip
            runs.append(in_a_thread(evaluate, db, ["resolved", "tool_call_count"], settings=settings, name=version))
    finally:
        db.close()
    return runs[0], runs[1]
