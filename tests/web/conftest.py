"""Fixtures of the web UI's tests: a real server over the demo store, and a real Chromium (Debian's,
driven by Playwright; never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.demo.load import load_demo
from mcp_server.settings import Settings
from store import Database
from tests.support.live_server import LiveServer, start_live_server

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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


SCREENSHOTS = "TRACEJUDGE_SCREENSHOTS"
"""A folder to save the README's screenshots in, as the tests reach each page (unset: none are saved):
TRACEJUDGE_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/web -m slow"""


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
