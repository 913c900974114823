"""The server's MCP Apps (extension io.modelcontextprotocol/ui, specification 2026-01-26): views that a
host renders in a sandboxed iframe beside a tool's answer. Each view is a `ui://` resource whose HTML is
the web pages' own front end (static/, bundled into one document by mcp_server.web.bundle), bound to
its tool by the tool's `_meta.ui.resourceUri`; the view reads what else it needs (and the labeling
form stores its labels) by calling our tools through the host, which gives it the same JSON the pages
read from /api/.

A client that does not negotiate the extension sees no view: create_server leaves the tools' answers
as they are (their text is the fallback the specification asks for), and ViewsForAppHosts takes
`_meta.ui` out of tools/list and the views out of resources/list for such a client, so what it lists
is the same as without views.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server.apps import Apps, ResourceCsp, ResourcePermissions, client_supports_apps

from mcp_server.tooling.toolsets import TOOLSET_OF
from mcp_server.web.app import STATIC
from mcp_server.web.bundle import html_document

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


@dataclass(frozen=True)
class View:
    uri: str
    tool: str
    """The tool whose answer the view shows."""
    entry: str
    """Its ES module under static/."""
    title: str
    description: str
    writes: tuple[str, ...] = ()
    """The tools it writes with (it calls them through the host): a read-only server has none, and offers no
    form that could not send."""
    copies: bool = True
    """Whether it has "copy id" buttons, for which it asks for the clipboard."""


TRACE_VIEW = View(
    uri="ui://tracejudge/trace-view",
    tool="GetTraceInfo",
    entry="view-trace.js",
    title="tracejudge trace",
    description="The trace GetTraceInfo answered for: its span tree beside a waterfall with the critical path, "
    "and any span's inputs, outputs and attributes (read with ListSpans and GetSpan).",
)
RUN_REPORT = View(
    uri="ui://tracejudge/run-report",
    tool="GetEvaluationRun",
    entry="view-run.js",
    title="tracejudge evaluation run",
    description="The evaluation run GetEvaluationRun answered for, as the run pages show it: its totals, a card "
    "per judge (pass rate, metrics, first errors) and its results page by page; a result's trace opens below.",
)
LABELING_FORM = View(
    uri="ui://tracejudge/labeling-form",
    tool="ListLabelingItems",
    entry="view-label.js",
    title="tracejudge labeling form",
    description="The labeling session ListLabelingItems answered for, as its share link's page shows it: the first "
    "pending trace as a conversation with the session's questions (read in full with ListLabelingSchemas), labeled "
    "with SubmitLabel or skipped with SkipLabelingItem, then the next, with the session's progress.",
    writes=("SubmitLabel", "SkipLabelingItem"),
    copies=False,
)
VIEWS = (TRACE_VIEW, RUN_REPORT, LABELING_FORM)

STYLES = ("style.css", "view.css")
CSP = ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[], base_uri_domains=[])
"""No origin for anything: the document holds its script and styles, and reads only through the host."""
PERMISSIONS = ResourcePermissions(clipboard_write={})
"""For the views' "copy id" buttons; a host may refuse it, and the buttons then do nothing."""


@functools.cache
def view_html(view: View) -> str:
    """The view's self-contained document, built once per process from static/."""
    return html_document(STATIC, title=view.title, entry=view.entry, styles=STYLES)


def offered(view: View, toolsets: list[str], *, read_only: bool) -> bool:
    """Whether a server of these toolsets (and only tools that read, with `read_only`) offers the view."""
    return TOOLSET_OF[view.tool] in toolsets and not (read_only and view.writes)


def apps_extension(toolsets: list[str], *, read_only: bool = False) -> Apps:
    """The MCP Apps extension for MCPServer(extensions=...): the views `offered` by such a server, each as
    a `ui://` resource (text/html;profile=mcp-app) that declares it loads nothing from outside and, if it
    copies ids, would like the clipboard."""
    apps = Apps()
    for view in VIEWS:
        if offered(view, toolsets, read_only=read_only):
            apps.add_html_resource(
                view.uri,
                view_html(view),
                name=view.uri.rsplit("/", 1)[-1],
                title=view.title,
                description=view.description,
                csp=CSP,
                permissions=PERMISSIONS if view.copies else None,
                prefers_border=True,
            )
    return apps


def bind_views(server: MCPServer) -> None:
    """Point each tool left on `server` that has a view at it (when the view's write tools are left too),
    for clients that negotiated MCP Apps.
    Called after select_tools, which decides the tools; apps_extension decided the views the same way."""
    # The SDK's Apps.tool binds a tool it registers itself, before the server exists; ours are the
    # features' tools, so the binding is stamped on the registered Tool (a plain field of it).
    tools = {tool.name: tool for tool in server._tool_manager.list_tools()}
    resources = {str(resource.uri) for resource in server._resource_manager.list_resources()}
    for view in VIEWS:
        needs = (view.tool, *view.writes)
        served = all(name in tools for name in needs)
        if served != (view.uri in resources):
            raise RuntimeError(f"{', '.join(needs)} and the view {view.uri} must be served together")
        if served:
            tool = tools[view.tool]
            tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": view.uri}}
    server.middleware.append(ViewsForAppHosts())


class ViewsForAppHosts:
    """MCP middleware: for a client that did not negotiate MCP Apps (the extension with the
    text/html;profile=mcp-app MIME type, as the SDK's client_supports_apps reads it), tools/list without
    `_meta.ui` and resources/list without the views.

    The specification says a server SHOULD check the client's capabilities before offering UI-bound
    tools, and MAY leave UI-only resources out of resources/list: a client without views would only
    carry them in its context (or its resource picker) for nothing. resources/read still serves them."""

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method not in ("tools/list", "resources/list"):
            return await call_next(ctx)
        listed = await call_next(ctx)  # the wire form, a dict
        if client_supports_apps(ctx) or not isinstance(listed, dict):
            return listed
        if ctx.method == "resources/list":
            views = {view.uri for view in VIEWS}
            return {**listed, "resources": [r for r in listed.get("resources", []) if r.get("uri") not in views]}
        return {**listed, "tools": [_without_ui(tool) for tool in listed.get("tools", [])]}


def _without_ui(tool: dict[str, Any]) -> dict[str, Any]:
    meta = tool.get("_meta")
    if not isinstance(meta, dict) or "ui" not in meta:
        return tool
    rest = {key: value for key, value in meta.items() if key != "ui"}
    return {**{key: value for key, value in tool.items() if key != "_meta"}, **({"_meta": rest} if rest else {})}
