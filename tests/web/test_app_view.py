"""The MCP Apps views (ui://tracejudge/...) as a host renders them, in a real Chromium: a host
page of the test's own puts the resource's HTML in a sandboxed iframe (allow-scripts alone: an opaque
origin) under the CSP that the specification has a host build from the resource's metadata, plays the
host's side of the postMessage protocol, and forwards the view's tools/call to a real tracejudge server
over the real MCP client. The trace view must draw the demo trace's span tree and open a span from those
answers, the run report summarise a run and page its results, the labeling form label one queued trace
and skip the other; none may load anything or break a rule of that CSP."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from playwright.sync_api import expect

from store.evaluations import EvaluationResult, create_run, record_results
from tests.support.live_server import LiveServer
from tests.web.conftest import save_screenshot
from tests.web.test_pages import HOSTILE, _hostile_trace, send_trace

pytestmark = pytest.mark.slow

MISROUTED_FILTER = "trace.text LIKE '%roaming in Spain%'"

# The host's side, as small as the specification allows: answer ui/initialize, then (and only then) send
# the tool's input and result; proxy tools/call; size the iframe as the view asks; ping the view once.
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>test host</title></head>
<body style="margin: 0; font-family: sans-serif">
<p style="margin: 6px 10px">A test host: the view below is a sandboxed iframe, talking to this page by postMessage.</p>
<script>
window.hostLog = [];
window.startHost = ({ html, permissions, toolInput, toolResult }) => {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  if (permissions.clipboardWrite) frame.setAttribute("allow", "clipboard-write");
  frame.style.cssText = "display: block; width: 100%; height: 200px; border: 0; border-top: 1px solid #ccc";
  frame.srcdoc = html;
  const post = (message) => frame.contentWindow.postMessage({ jsonrpc: "2.0", ...message }, "*");
  let initialized = false;
  window.addEventListener("message", async (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = event.data;
    window.hostLog.push(m.method ? (m.method === "tools/call" ? `tools/call ${m.params.name}` : m.method) : `answer ${m.id}`);
    if (m.method === "ui/initialize") {
      post({ id: m.id, result: { protocolVersion: "2026-01-26", hostInfo: { name: "test host", version: "1" },
        hostCapabilities: { serverTools: {} }, hostContext: { theme: "light", displayMode: "inline", platform: "web" } } });
    } else if (m.method === "ui/notifications/initialized") {
      initialized = true;
      post({ method: "ui/notifications/tool-input", params: { arguments: toolInput } });
      post({ method: "ui/notifications/tool-result", params: toolResult });
      post({ id: 900, method: "ping", params: {} });
    } else if (m.method === "tools/call") {
      if (!initialized) return post({ id: m.id, error: { code: -32600, message: "not initialized" } });
      try {
        post({ id: m.id, result: await window.hostCallTool(m.params.name, m.params.arguments || {}) });
      } catch (err) {
        post({ id: m.id, error: { code: -32603, message: String(err) } });
      }
    } else if (m.method === "ui/notifications/size-changed") {
      frame.style.height = `${m.params.height}px`;
    } else if (m.method !== undefined && m.id !== undefined) {
      post({ id: m.id, error: { code: -32601, message: `the test host does not serve ${m.method}` } });
    }
  });
  document.body.append(frame);
};
</script></body></html>"""


def host_csp(csp: dict[str, list[str]]) -> str:
    """The Content-Security-Policy a host builds from a resource's _meta.ui.csp (the 2026-01-26
    specification, "CSP Construction from Metadata")."""
    resources = " ".join(csp.get("resourceDomains", []))
    return "; ".join((
        "default-src 'none'", f"script-src 'self' 'unsafe-inline' {resources}", f"style-src 'self' 'unsafe-inline' {resources}",
        f"connect-src 'self' {' '.join(csp.get('connectDomains', []))}", f"img-src 'self' data: {resources}",
        f"font-src 'self' {resources}", f"media-src 'self' data: {resources}",
        f"frame-src {' '.join(csp.get('frameDomains', [])) or chr(39) + 'none' + chr(39)}", "object-src 'none'",
        f"base-uri {' '.join(csp.get('baseUriDomains', [])) or chr(39) + 'self' + chr(39)}",
    ))  # fmt: skip


def wire(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass
class Host:
    """The MCP client side of the host: one session with the server, negotiated with MCP Apps."""

    portal: anyio.from_thread.BlockingPortal
    client: Client
    calls: list[str] = field(default_factory=list)

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(name)
        return wire(self.portal.call(self.client.call_tool, name, arguments))


@pytest.fixture
def host(web_server: LiveServer) -> Iterator[Host]:
    # Playwright's sync API holds this thread's event loop: the MCP client lives in a thread of its own.
    with anyio.from_thread.start_blocking_portal() as portal:
        client = Client(f"{web_server.url}/mcp", extensions=[advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})])
        with portal.wrap_async_context_manager(client) as connected:
            yield Host(portal, connected)


@dataclass
class Hosted:
    """A view the test host renders: its frame, and what the host saw."""

    page: Any
    host: Host
    problems: list[str]

    @property
    def view(self) -> Any:
        return self.page.frame_locator("iframe")

    def log(self) -> list[str]:
        return self.page.evaluate("window.hostLog")


@pytest.fixture
def hosted(browser, host: Host) -> Iterator[Callable[[str, dict[str, Any]], Hosted]]:
    """Call `tool` as a model would, then render the view its _meta names with the tool's result, as a host does."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})

    def render(tool: str, arguments: dict[str, Any]) -> Hosted:
        (listed,) = [t for t in host.portal.call(host.client.list_tools).tools if t.name == tool]
        resource = host.portal.call(host.client.read_resource, listed.meta["ui"]["resourceUri"]).contents[0]
        assert resource.mime_type == APP_MIME_TYPE
        result = host.call_tool(tool, arguments)
        host.calls.clear()
        csp = f'<meta http-equiv="Content-Security-Policy" content="{host_csp(resource.meta["ui"]["csp"])}">'
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: problems.append(f"request: {r.url}"))
        page.expose_function("hostCallTool", host.call_tool)
        page.set_content(HOST_PAGE)
        page.evaluate("(start) => window.startHost(start)",
                      {"html": resource.text.replace("<head>", f"<head>\n{csp}", 1), "toolInput": arguments, "toolResult": result,
                       "permissions": resource.meta["ui"].get("permissions", {})})  # fmt: skip
        return Hosted(page, host, problems)

    yield render
    context.close()


def test_the_trace_view_draws_the_demo_trace_and_opens_a_span_through_the_hosts_tool_calls(hosted, host: Host) -> None:
    (trace,) = host.call_tool("SearchTraces", {"filter_string": MISROUTED_FILTER})["structuredContent"]["traces"]
    shown = hosted("GetTraceInfo", {"trace_id": trace["trace_id"]})
    view = shown.view
    expect(view.locator(".tree .row")).to_have_count(trace["span_count"])
    expect(view.locator(".trace-header h1")).to_have_text(trace["name"])
    view.locator(".tree .row", has_text="chat gpt-4o-mini").first.click()
    panel = view.locator(".span-panel")
    expect(panel.get_by_text("You are the triage assistant for Northwind Mobile", exact=False)).to_be_visible()
    expect(panel.locator(".message.role-assistant")).to_contain_text("product_specialist")
    expect(panel.locator("a")).to_have_count(0)  # no link into a site the iframe cannot open
    panel.get_by_role("button", name="copy id").click()  # whether or not the host grants the clipboard: no error
    expect(shown.page.locator("iframe")).to_have_attribute("style", re.compile(r"height: (?!200px)[0-9]+px"))  # sized by the view
    save_screenshot(shown.page, "app-trace")
    log = shown.log()
    # The handshake first; the view read the trace through the host, GetTraceInfo's answer it was given.
    assert log[:2] == ["ui/initialize", "ui/notifications/initialized"]
    assert "answer 900" in log and "ui/notifications/size-changed" in log
    assert {"ListSpans", "GetSpanTimingReport", "GetSpan"} <= set(host.calls) and "GetTraceInfo" not in host.calls
    assert shown.problems == []


def test_the_run_report_summarises_each_judge_pages_its_results_and_opens_a_trace(hosted, host: Host, web_server: LiveServer) -> None:
    traces = host.call_tool("SearchTraces", {"max_results": 10})["structuredContent"]["traces"]
    judges = [{"name": name, "ref": name, "version": 1, "source_id": f"{name}@1", "kind": "llm"} for name in ("routing", "tone")]
    run_id = create_run(web_server.db, judges=judges, trace_ids=[t["trace_id"] for t in traces], name="routing check").run_id
    record_results(web_server.db, run_id, [
        EvaluationResult(judge="routing", trace_id=t["trace_id"], source_id="routing@1", value=i % 3 != 0, cost=0.001)
        for i, t in enumerate(traces)
    ] + [EvaluationResult(judge="tone", trace_id=t["trace_id"], source_id="tone@1", error="the model timed out") for t in traces[:2]])
    shown = hosted("GetEvaluationRun", {"run_id": run_id, "max_results": 5})
    view = shown.view
    expect(view.locator(".run-header h1")).to_have_text("routing check")
    expect(view.locator(".judge-card")).to_have_count(2)
    expect(view.locator(".judge-card[data-judge=routing] [aria-label='pass rate 60.0%']")).to_be_visible()
    expect(view.locator(".judge-card[data-judge=tone] .error").first).to_contain_text("the model timed out")
    expect(view.locator("table.results tbody tr")).to_have_count(5)
    view.get_by_role("button", name="Next").click()
    expect(view.locator(".pager")).to_contain_text("page 2")
    expect(view.locator("table.results tbody tr")).to_have_count(5)
    view.locator("table.results tbody tr", has_text="routing").first.locator("a").click()
    expect(view.locator(".trace .tree .row").first).to_be_visible()
    expect(view.locator(".trace .span-panel h2")).to_be_visible()
    assert host.calls[:2] == ["GetEvaluationRun", "GetTraceInfo"] and "ListSpans" in host.calls
    assert shown.problems == []


def test_hostile_trace_content_renders_as_inert_text_in_the_view(hosted, host: Host, web_server: LiveServer) -> None:
    trace_id = send_trace(web_server, _hostile_trace)
    shown = hosted("GetTraceInfo", {"trace_id": trace_id})
    view = shown.view
    expect(view.locator(".trace-header h1")).to_have_text(HOSTILE[1])  # shown as the text it is
    view.locator(".tree .row", has_text="chat <script>").click()
    for text in HOSTILE:
        expect(view.locator(".span-panel").get_by_text(text, exact=False).first).to_be_visible()
    assert shown.page.frames[1].evaluate("window.__pwned") is None
    assert view.locator("img").count() == 0 and view.locator("#app script").count() == 0
    assert shown.problems == []


def _review_session(host: Host) -> list[str]:
    """A labeling session 'review' (a pass/fail question with comments, a 1-to-5 rating) queuing the two
    newest demo traces, made over MCP; returns their ids in queue order."""
    traces = host.call_tool("SearchTraces", {"max_results": 2})["structuredContent"]["traces"]
    host.call_tool("CreateLabelingSchema", {"name": "routing_correct", "type": "feedback", "input": {"kind": "pass_fail"},
                                            "instructions": "Did the router pick the right specialist?", "enable_comment": True})  # fmt: skip
    host.call_tool("CreateLabelingSchema", {"name": "helpfulness", "type": "feedback",
                                            "input": {"kind": "numeric", "minimum": 1, "maximum": 5}})  # fmt: skip
    host.call_tool("CreateLabelingSession", {"name": "review", "schemas": ["routing_correct", "helpfulness"]})
    ids = [trace["trace_id"] for trace in traces]
    host.call_tool("AddTracesToLabelingSession", {"session": "review", "trace_ids": ids})
    return ids


def test_the_labeling_form_labels_one_queued_trace_through_the_host_skips_the_other_and_is_done(hosted, host: Host) -> None:
    queued = _review_session(host)
    shown = hosted("ListLabelingItems", {"session": "review"})
    view = shown.view
    expect(view.get_by_text("0 of 2 done")).to_be_visible()
    expect(view.locator(".label-head h1")).to_have_text("review")
    expect(view.locator("section.label-trace")).to_contain_text("The agent's answer")
    expect(view.get_by_text("Did the router pick the right specialist?")).to_be_visible()  # the schema in full
    form = view.locator("form.questions")
    expect(form.get_by_role("button", name="Submit")).to_be_disabled()  # the tools need a labeler: no name, no label
    view.locator("input[name=labeler]").fill("dana")
    form.get_by_role("radio", name="Fail").click()
    form.get_by_label("comment on routing_correct").fill("sent to the product specialist, not billing")
    form.get_by_label("helpfulness", exact=True).fill("7")
    form.get_by_role("button", name="Submit").click()
    # Every value is checked before any is sent: one out of range sends none.
    expect(form.get_by_role("alert")).to_have_text("helpfulness takes a number from 1 to 5.")
    assert "SubmitLabel" not in host.calls
    form.get_by_label("helpfulness", exact=True).fill("4")
    form.get_by_role("button", name="Submit").click()
    expect(view.get_by_text("1 of 2 done")).to_be_visible()
    expect(view.get_by_text("Trace 2 in the queue")).to_be_visible()
    view.locator("form.questions").get_by_role("button", name="Skip").click()
    expect(view.get_by_text("All done: nothing left to label.")).to_be_visible()
    expect(view.get_by_text("2 of 2 done")).to_be_visible()
    view_calls = list(host.calls)

    # Over MCP: dana's HUMAN labels of the first trace, one SubmitLabel per question; the second skipped.
    assessments = host.call_tool("ListAssessments", {"trace_id": queued[0]})["structuredContent"]["assessments"]
    assert sorted((a["name"], a["source_type"], a["source_id"], a["value"]) for a in assessments) == [
        ("helpfulness", "HUMAN", "dana", 4), ("routing_correct", "HUMAN", "dana", False)]  # fmt: skip
    items = host.call_tool("ListLabelingItems", {"session": "review"})["structuredContent"]
    assert items["status_counts"] == {"pending": 0, "completed": 1, "skipped": 1}
    assert [(item["status"], item["assignee"]) for item in items["items"]] == [("completed", "dana"), ("skipped", "dana")]
    assert {label["schema_name"]: label["comment"] for label in items["items"][0]["labels"]} == {
        "routing_correct": "sent to the product specialist, not billing", "helpfulness": None}  # fmt: skip
    assert view_calls.count("SubmitLabel") == 2 and view_calls.count("SkipLabelingItem") == 1
    assert set(view_calls) == {"ListLabelingSchemas", "ListLabelingItems", "ListSpans", "GetSpan", "SubmitLabel", "SkipLabelingItem"}
    assert shown.problems == []
