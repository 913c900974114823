"""The trace view (ui://tracejudge/trace-view) as an MCP Apps host renders it, in a real Chromium: a host
page of the test's own puts the resource's HTML in a sandboxed iframe (allow-scripts alone: an opaque
origin) under the CSP that the specification has a host build from the resource's metadata, plays the
host's side of the postMessage protocol, and forwards the view's tools/call to a real tracejudge server
over the real MCP client. The view must draw the demo trace's span tree and open a span from those
answers, load nothing, and break no rule of that CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from playwright.sync_api import expect

from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

MISROUTED_FILTER = "trace.text LIKE '%roaming in Spain%'"

# The host's side, as small as the specification allows: answer ui/initialize, then (and only then) send
# the tool's input and result; proxy tools/call; size the iframe as the view asks; ping the view once.
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>test host</title></head>
<body style="margin: 0; font-family: sans-serif">
<p style="margin: 6px 10px">A test host: the view below is a sandboxed iframe, talking to this page by postMessage.</p>
<script>
window.hostLog = [];
window.startHost = ({ html, toolInput, toolResult }) => {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
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


def test_the_trace_view_draws_the_demo_trace_and_opens_a_span_through_the_hosts_tool_calls(browser, host: Host, tmp_path: Path) -> None:
    # What a host does before the view exists: the model calls GetTraceInfo, whose _meta names its view.
    (get_trace_info,) = [t for t in host.portal.call(host.client.list_tools).tools if t.name == "GetTraceInfo"]
    resource = host.portal.call(host.client.read_resource, get_trace_info.meta["ui"]["resourceUri"]).contents[0]
    assert resource.mime_type == APP_MIME_TYPE
    (trace,) = host.call_tool("SearchTraces", {"filter_string": MISROUTED_FILTER})["structuredContent"]["traces"]
    tool_input = {"trace_id": trace["trace_id"]}
    tool_result = host.call_tool("GetTraceInfo", tool_input)
    host.calls.clear()
    document = resource.text.replace("<head>", f'<head>\n<meta http-equiv="Content-Security-Policy" content="{host_csp(resource.meta["ui"]["csp"])}">', 1)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"request: {r.url}"))
    try:
        page.expose_function("hostCallTool", host.call_tool)
        page.set_content(HOST_PAGE)
        page.evaluate("(start) => window.startHost(start)", {"html": document, "toolInput": tool_input, "toolResult": tool_result})
        view = page.frame_locator("iframe")
        expect(view.locator(".tree .row")).to_have_count(trace["span_count"])
        expect(view.locator(".trace-header h1")).to_have_text(trace["name"])
        view.locator(".tree .row", has_text="chat gpt-4o-mini").first.click()
        panel = view.locator(".span-panel")
        expect(panel.get_by_text("You are the triage assistant for Northwind Mobile", exact=False)).to_be_visible()
        expect(panel.locator(".message.role-assistant")).to_contain_text("product_specialist")
        expect(panel.locator("a")).to_have_count(0)  # no link into a site the iframe cannot open
        expect(page.locator("iframe")).to_have_attribute("style", re.compile(r"height: (?!200px)[0-9]+px"))  # sized by the view
        page.screenshot(path=str(tmp_path / "app-trace.png"), full_page=True)
        log = page.evaluate("window.hostLog")
    finally:
        context.close()
    # The handshake first; the view read the trace through the host, GetTraceInfo's answer it was given.
    assert log[:2] == ["ui/initialize", "ui/notifications/initialized"]
    assert "answer 900" in log and "ui/notifications/size-changed" in log
    assert {"ListSpans", "GetSpanTimingReport", "GetSpan"} <= set(host.calls) and "GetTraceInfo" not in host.calls
    assert problems == []
