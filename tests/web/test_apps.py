"""The MCP Apps views as MCP clients see them, in process and over streamable HTTP: the ui:// resources
(their MIME type, their CSP metadata, documents that load nothing from anywhere), GetTraceInfo,
GetEvaluationRun and ListLabelingItems bound to them and the views listed only for a client that
negotiated the extension, and the same lists and answers as before for every other."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from mcp_server.labeling import definitions, queue
from mcp_server.server import create_server
from mcp_server.settings import Settings
from mcp_server.web.apps import VIEWS
from store import Database
from store.search import search_trace_ids
from tests.support.live_server import LiveServer

APP_HOST = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
NO_ORIGIN = {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []}
VIEW_META = {"ui": {"csp": NO_ORIGIN, "permissions": {"clipboardWrite": {}}, "prefersBorder": True}}
FORM_META = {"ui": {"csp": NO_ORIGIN, "prefersBorder": True}}
"""The labeling form has no "copy id" button, and does not ask for the clipboard."""
BOUND = {
    "GetTraceInfo": {"ui": {"resourceUri": "ui://tracejudge/trace-view"}},
    "GetEvaluationRun": {"ui": {"resourceUri": "ui://tracejudge/run-report"}},
    "ListLabelingItems": {"ui": {"resourceUri": "ui://tracejudge/labeling-form"}},
}


def _tools(listed) -> dict[str, dict]:
    return {tool.name: tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools}


@pytest.fixture
def demo(demo_db: Path) -> Iterator[Database]:
    database = Database(demo_db)
    yield database
    database.close()


@pytest.fixture
def labeling(demo_db: Path, tmp_path: Path) -> Iterator[Database]:
    """A copy of the demo store with a labeling session 'review' queuing its two newest traces."""
    shutil.copy(demo_db, tmp_path / "labeling.db")
    database = Database(tmp_path / "labeling.db")
    definitions.create_schema(database, "routing_correct", "feedback", {"kind": "pass_fail"})
    definitions.create_session(database, "review", ["routing_correct"])
    queue.add_traces(database, "review", trace_ids=search_trace_ids(database, None, None, 2))
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
    assert sorted(listed) == sorted(view.uri for view in VIEWS) == [
        "ui://tracejudge/labeling-form", "ui://tracejudge/run-report", "ui://tracejudge/trace-view"]  # fmt: skip
    for uri, resource in listed.items():
        assert (resource.mime_type, resource.meta) == (APP_MIME_TYPE, FORM_META if uri.endswith("labeling-form") else VIEW_META)
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


async def _bound_answers(client: Client, trace_id: str) -> list:
    """The answers of the tools that have a view (the run report's tool has no run to answer for here)."""
    return [await client.call_tool("GetTraceInfo", {"trace_id": trace_id}),
            await client.call_tool("ListLabelingItems", {"session": "review"})]  # fmt: skip


async def test_the_tools_are_bound_to_their_views_only_for_a_client_that_negotiated_mcp_apps(labeling: Database) -> None:
    async with Client(create_server(Settings(), labeling), extensions=[APP_HOST]) as client:
        with_apps = _tools(await client.list_tools())
        trace_id = await _first_trace(client)
        answers_with_apps = await _bound_answers(client, trace_id)
    async with Client(create_server(Settings(), labeling)) as client:
        without = _tools(await client.list_tools())
        answers_without = await _bound_answers(client, trace_id)
        resources_without = (await client.list_resources()).resources
        readable = [await client.read_resource(view.uri) for view in VIEWS]
    # The SDK's client_supports_apps: the extension and the app MIME type among its mimeTypes.
    async with Client(create_server(Settings(), labeling), extensions=[advertise(EXTENSION_ID, {"mimeTypes": ["text/html"]})]) as client:
        wrong_type = _tools(await client.list_tools())
    assert {view.tool: with_apps[view.tool].pop("_meta") for view in VIEWS} == BOUND
    # Nothing else differs: not the other tools, not the answers (their text is the fallback, and the same).
    assert with_apps == without == wrong_type
    assert resources_without == []  # listed only to app hosts, and readable by any client
    assert [read.contents[0].mime_type for read in readable] == [APP_MIME_TYPE] * len(VIEWS)
    assert answers_with_apps[1].structured_content["total_matching"] == 2
    for with_apps_answer, without_answer in zip(answers_with_apps, answers_without, strict=True):
        assert not with_apps_answer.is_error
        assert [c.text for c in with_apps_answer.content] == [c.text for c in without_answer.content]
        assert with_apps_answer.structured_content == without_answer.structured_content


async def test_a_server_offers_the_views_of_the_toolsets_it_serves_only(demo: Database) -> None:
    async with Client(create_server(Settings(toolsets=["feedback", "evaluation"]), demo), extensions=[APP_HOST]) as client:
        resources = (await client.list_resources()).resources
        tools = _tools(await client.list_tools())
    assert [str(r.uri) for r in resources if str(r.uri).startswith("ui://")] == ["ui://tracejudge/run-report"]
    assert "GetTraceInfo" not in tools and [name for name, tool in tools.items() if "_meta" in tool] == ["GetEvaluationRun"]


async def test_a_read_only_server_offers_no_labeling_form_for_it_could_not_send_labels(demo: Database) -> None:
    async with Client(create_server(Settings(read_only=True), demo), extensions=[APP_HOST]) as client:
        resources = (await client.list_resources()).resources
        tools = _tools(await client.list_tools())
    assert sorted(str(r.uri) for r in resources if str(r.uri).startswith("ui://")) == [
        "ui://tracejudge/run-report", "ui://tracejudge/trace-view"]  # fmt: skip
    assert "ListLabelingItems" in tools and "SubmitLabel" not in tools
    assert sorted(name for name, tool in tools.items() if "_meta" in tool) == ["GetEvaluationRun", "GetTraceInfo"]


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
