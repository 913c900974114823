"""The MCP Apps views as MCP clients see them, in process and over streamable HTTP: the ui:// resources
(their MIME type, their CSP metadata, documents that load nothing from anywhere), GetTraceInfo and
GetEvaluationRun bound to them and the views listed only for a client that negotiated the extension,
and the same lists and answers as before for every other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from mcp_server.server import create_server
from mcp_server.settings import Settings
from mcp_server.web.apps import VIEWS
from store import Database
from tests.support.live_server import LiveServer

APP_HOST = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
NO_ORIGIN = {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []}
VIEW_META = {"ui": {"csp": NO_ORIGIN, "permissions": {"clipboardWrite": {}}, "prefersBorder": True}}


def _tools(listed) -> dict[str, dict]:
    return {tool.name: tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools}


@pytest.fixture
def demo(demo_db: Path) -> Iterator[Database]:
    database = Database(demo_db)
    yield database
    database.close()


async def _first_trace(client: Client) -> str:
    found = await client.call_tool("SearchTraces", {"max_results": 1})
    return found.structured_content["traces"][0]["trace_id"]


async def test_each_view_is_a_ui_resource_that_declares_it_loads_nothing_from_outside(demo: Database) -> None:
    async with Client(create_server(Settings(), demo), extensions=[APP_HOST]) as client:
        assert client.server_capabilities.extensions == {EXTENSION_ID: {}}
        listed = {str(r.uri): r for r in (await client.list_resources()).resources if str(r.uri).startswith("ui://")}
        read = {uri: await client.read_resource(uri) for uri in listed}
    assert sorted(listed) == sorted(view.uri for view in VIEWS) == ["ui://tracejudge/run-report", "ui://tracejudge/trace-view"]
    for uri, resource in listed.items():
        assert (resource.mime_type, resource.meta) == (APP_MIME_TYPE, VIEW_META)
        (content,) = read[uri].contents
        assert (content.mime_type, content.meta) == (APP_MIME_TYPE, resource.meta)
        _check_self_contained(content.text)


def _check_self_contained(document: str) -> None:
    assert document.startswith("<!doctype html>") and '<div id="app">' in document
    # Everything is inline: the markup names no URL, no module is imported by specifier or at run time
    # (the host page's test, test_app_view, runs it under the CSP a host builds from this metadata).
    markup = document.split('<script type="module">')[0]
    assert re.findall(r"<link|\b(?:src|href)\s*=", markup) == []
    assert re.findall(r"\bimport\s*[({\"']|\bimport\s+\w+\s+from\b", document) == []
    assert document.count("<script") == 1 and "__tracejudge_modules['vendor/preact.module.js']" in document


async def test_the_tools_are_bound_to_their_views_only_for_a_client_that_negotiated_mcp_apps(demo: Database) -> None:
    async with Client(create_server(Settings(), demo), extensions=[APP_HOST]) as client:
        with_apps = _tools(await client.list_tools())
        trace_id = await _first_trace(client)
        answer_with_apps = await client.call_tool("GetTraceInfo", {"trace_id": trace_id})
    async with Client(create_server(Settings(), demo)) as client:
        without = _tools(await client.list_tools())
        answer_without = await client.call_tool("GetTraceInfo", {"trace_id": trace_id})
        resources_without = (await client.list_resources()).resources
        readable = await client.read_resource("ui://tracejudge/trace-view")
    # The SDK's client_supports_apps: the extension and the app MIME type among its mimeTypes.
    async with Client(create_server(Settings(), demo), extensions=[advertise(EXTENSION_ID, {"mimeTypes": ["text/html"]})]) as client:
        wrong_type = _tools(await client.list_tools())
    assert {view.tool: with_apps[view.tool].pop("_meta") for view in VIEWS} == {
        "GetTraceInfo": {"ui": {"resourceUri": "ui://tracejudge/trace-view"}},
        "GetEvaluationRun": {"ui": {"resourceUri": "ui://tracejudge/run-report"}},
    }
    # Nothing else differs: not the other tools, not the answer (its text is the fallback, and the same).
    assert with_apps == without == wrong_type
    assert resources_without == [] and readable.contents[0].mime_type == APP_MIME_TYPE  # listed only to app hosts
    assert [c.text for c in answer_with_apps.content] == [c.text for c in answer_without.content]
    assert answer_with_apps.structured_content == answer_without.structured_content


async def test_a_server_offers_the_views_of_the_toolsets_it_serves_only(demo: Database) -> None:
    async with Client(create_server(Settings(toolsets=["feedback", "evaluation"]), demo), extensions=[APP_HOST]) as client:
        resources = (await client.list_resources()).resources
        tools = _tools(await client.list_tools())
    assert [str(r.uri) for r in resources if str(r.uri).startswith("ui://")] == ["ui://tracejudge/run-report"]
    assert "GetTraceInfo" not in tools and [name for name, tool in tools.items() if "_meta" in tool] == ["GetEvaluationRun"]


async def test_over_streamable_http_an_app_host_finds_the_view_and_reads_spans_as_the_view_does(web_server: LiveServer) -> None:
    async with Client(f"{web_server.url}/mcp/traces", extensions=[APP_HOST]) as client:
        tools = _tools(await client.list_tools())
        read = await client.read_resource(tools["GetTraceInfo"]["_meta"]["ui"]["resourceUri"])
        trace_id = await _first_trace(client)
        spans = await client.call_tool("ListSpans", {"trace_id": trace_id, "max_results": 1000})
        span = await client.call_tool("GetSpan", {"trace_id": trace_id, "span_id": spans.structured_content["spans"][-1]["span_id"],
                                                  "max_content_length": 50_000})  # fmt: skip
    assert read.contents[0].mime_type == APP_MIME_TYPE and read.contents[0].text.startswith("<!doctype html>")
    assert not spans.is_error and not span.is_error
    async with Client(f"{web_server.url}/mcp") as client:
        assert "_meta" not in _tools(await client.list_tools())["GetTraceInfo"]
