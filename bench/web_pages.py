"""The web pages in a real Chromium against the real `tracejudge serve`: the trace page on one
5,000-span trace of ~49 MB, and the traces list over 100,000 traces.

    .venv/bin/python -m bench.web_pages                 # both stores (~3 min to build them)
    .venv/bin/python -m bench.web_pages --dir /tmp/web-bench   # keep the stores; reuse them next time

Figures printed, each the median (and the slowest) of RUNS page loads in a fresh browser context
(no cache, no cookie), timed from the navigation until what a person waits for is on screen:
- trace page: the first rows of the span tree drawn; every span listed (ListSpans pages of 1,000
  in the background); a span opened (a click on a row in the middle of the tree until its panel
  shows that span); the tree scrolled to its last span; the rows in the DOM (the tree is
  virtualised: it must stay near a screenful, not 5,000); the bytes the page fetched (response
  bodies as sent, page shell and scripts included);
- traces list: the first page drawn; a filter applied (span.status = 'ERROR'); the next page; bytes.

The trace is bench.trace_tools' (`agent_traces(1, 5000, 9600)`); the list store holds 100,000
traces of 3 spans with ~200 characters of content each, so it builds in about a minute. The issue's
aim is a 5,000-span trace that opens in about a second and stays responsive.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.server_process import ServerProcess
from bench.trace_tools import build as build_large_trace
from bench.workload import agent_traces, batches, request
from mcp_server.ingest.otlp import decode_request
from store import Database, write_spans
from tests.web.conftest import CHROMIUM_FLAGS, chromium_path

RUNS = 5
LIST_TRACES = 100_000
LIST_SPANS_PER_TRACE = 3
LIST_CONTENT_CHARS = 200


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _large_trace_store(path: Path) -> str:
    if path.exists():
        _log(f"  reusing {path}")
        db = Database(path)
        trace_id = db.reader().execute("SELECT trace_id FROM traces LIMIT 1").fetchone()[0]
    else:
        db, trace_id, _, megabytes, seconds = build_large_trace(path)
        _log(f"  built a 5,000-span trace of {megabytes:.1f} MB in {seconds:.0f} s")
    db.close()
    return trace_id


def _list_store(path: Path) -> None:
    if path.exists():
        _log(f"  reusing {path}")
        return
    db = Database(path)
    started = time.perf_counter()
    spans = (span for trace in agent_traces(LIST_TRACES, LIST_SPANS_PER_TRACE, LIST_CONTENT_CHARS) for span in trace)
    for index, chunk in enumerate(batches(spans, 1_020)):
        write_spans(db, decode_request(request(chunk).SerializeToString(), "protobuf").spans)
        if index % 50 == 0:
            _log(f"  stored {(index + 1) * 1_020 // LIST_SPANS_PER_TRACE:,} traces ({time.perf_counter() - started:.0f} s)")
    db._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    _log(f"  built {LIST_TRACES:,} traces in {time.perf_counter() - started:.0f} s")


class Load:
    """One page load in a fresh context: its timings (ms) and the bytes it fetched."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.bytes = 0
        self.page.on("requestfinished", self._count)
        self.started = time.perf_counter()
        self.marks: dict[str, float] = {}

    def _count(self, request: Any) -> None:
        self.bytes += request.sizes()["responseBodySize"]

    def mark(self, name: str, since: float | None = None) -> None:
        self.marks[name] = (time.perf_counter() - (self.started if since is None else since)) * 1000

    def close(self) -> None:
        self.context.close()


def trace_page(browser: Any, url: str, trace_id: str) -> Load:
    from playwright.sync_api import expect

    load = Load(browser)
    page = load.page
    page.goto(f"{url}/traces/{trace_id}")
    page.locator(".tree .row").first.wait_for()
    load.mark("first rows drawn")
    expect(page.locator(".tree-foot")).to_contain_text("5,000 of 5,000 spans", timeout=60_000)
    load.mark("every span listed")
    load.dom_rows = page.locator(".tree .row").count()
    # Open a span from the middle of the tree: scroll to it, click, wait for its panel.
    page.locator(".tree").evaluate("(tree) => { tree.scrollTop = tree.scrollHeight / 2; }")
    row = page.locator(".tree .row").nth(20)
    row.wait_for()
    span_id = row.get_attribute("data-span-id")
    clicked = time.perf_counter()
    row.click()
    page.locator(".span-panel .ids code", has_text=span_id).wait_for(timeout=60_000)
    load.mark("span opened", clicked)
    scrolled = time.perf_counter()
    page.locator(".tree").evaluate("(tree) => { tree.scrollTop = tree.scrollHeight; }")
    last_row_top = 4_999 * 24  # the last span's row (ROW_PX in static/trace.js)
    page.locator(f".tree .row[style*='top: {last_row_top}px']").wait_for()
    load.mark("scrolled to the last span", scrolled)
    load.dom_rows = max(load.dom_rows, page.locator(".tree .row").count())
    return load


def list_page(browser: Any, url: str) -> Load:
    from playwright.sync_api import expect

    load = Load(browser)
    page = load.page
    page.goto(f"{url}/")
    page.locator("table.list tbody tr").first.wait_for(timeout=60_000)
    load.mark("first page drawn")
    first_link = page.locator("table.list tbody tr a").first

    def changed(before: str | None) -> None:
        expect(first_link).not_to_have_attribute("href", before or "", timeout=60_000)

    filtered = time.perf_counter()
    before = first_link.get_attribute("href")
    page.fill("input[name=filter]", "span.status = 'ERROR'")
    page.click("button[type=submit]")
    changed(before)
    load.mark("filter applied", filtered)
    paged = time.perf_counter()
    before = first_link.get_attribute("href")
    page.locator(".pager button").last.click()  # the older traces
    changed(before)
    load.mark("next page", paged)
    return load


def _report(title: str, loads: list[Load], extra: Callable[[list[Load]], list[tuple[str, str]]]) -> None:
    print(f"\n{title} ({len(loads)} loads, each in a fresh browser context)")
    print(f"| {'figure':<34} | {'median':>10} | {'slowest':>10} |")
    print(f"|{'-' * 36}|{'-' * 11}:|{'-' * 11}:|")
    for name in loads[0].marks:
        values = [load.marks[name] for load in loads]
        print(f"| {name + ', ms':<34} | {statistics.median(values):>10,.0f} | {max(values):>10,.0f} |")
    kilobytes = [load.bytes / 1024 for load in loads]
    print(f"| {'fetched, KiB':<34} | {statistics.median(kilobytes):>10,.0f} | {max(kilobytes):>10,.0f} |")
    for name, value in extra(loads):
        print(f"| {name:<34} | {value:>10} | {'':>10} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="keep the stores here and reuse them")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        sys.exit("needs Chromium: apt-get install -y chromium (or TRACEJUDGE_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        _log("building the 5,000-span trace")
        trace_id = _large_trace_store(folder / "trace.db")
        _log(f"building {LIST_TRACES:,} traces")
        _list_store(folder / "list.db")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            for store, measure, title, extra in (
                ("trace.db", lambda url: trace_page(browser, url, trace_id), "trace page, one 5,000-span trace of ~49 MB",
                 lambda loads: [("span-tree rows in the DOM, most", f"{max(load.dom_rows for load in loads):,}")]),
                ("list.db", lambda url: list_page(browser, url), f"traces list, {LIST_TRACES:,} traces",
                 lambda loads: []),
            ):  # fmt: skip
                server = ServerProcess(folder / store)
                try:
                    measure(server.url).close()  # warm-up: the server's page cache, not the browser's
                    loads = []
                    for _ in range(args.runs):
                        load = measure(server.url)
                        load.close()
                        loads.append(load)
                finally:
                    server.stop()
                _report(title, loads, extra)
            browser.close()


if __name__ == "__main__":
    main()
