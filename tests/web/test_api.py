"""The web UI's JSON API and its guards, through a real server over HTTP: /api/ answers what the MCP
tools answer (same services, same paging, same errors), writes need our request header, and with a
token the pages sign in for a cookie that opens /api/ only."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from mcp import Client

from mcp_server.web.app import STATIC
from mcp_server.web.login import COOKIE
from tests.support.live_server import LiveServer
from tests.web.conftest import demo_server

WRITE = {"x-tracejudge-request": "1"}
MISROUTED = "Why was I charged for roaming in Spain?"


async def tool(server: LiveServer, name: str, arguments: dict, headers: dict | None = None) -> dict:
    async with httpx2.AsyncClient(headers=headers or {}, timeout=30) as http:
        from mcp.client.streamable_http import streamable_http_client

        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client:
            result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def test_the_trace_list_pages_exactly_as_search_traces_does(web_server: LiveServer) -> None:
    pages, token = [], None
    while True:
        answer = httpx2.get(f"{web_server.url}/api/traces", params={"max_results": 3, **({"page_token": token} if token else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert set(page.pop("feedback")) <= {t["trace_id"] for t in page["traces"]}
        expected = await tool(web_server, "SearchTraces", {"max_results": 3, **({"page_token": token} if token else {})})
        assert page == expected
        pages.append(page)
        token = page["next_page_token"]
        if token is None:
            break
    assert sum(len(p["traces"]) for p in pages) == 10 and len(pages) == 4


async def test_trace_spans_and_span_answer_as_the_tools_do(web_server: LiveServer) -> None:
    (trace,) = httpx2.get(f"{web_server.url}/api/traces", params={"filter_string": f"trace.text LIKE '%{MISROUTED}%'"}).json()["traces"]
    trace_id = trace["trace_id"]
    info = httpx2.get(f"{web_server.url}/api/traces/{trace_id}").json()
    assert info == await tool(web_server, "GetTraceInfo", {"trace_id": trace_id})
    spans = httpx2.get(f"{web_server.url}/api/traces/{trace_id}/spans").json()
    assert spans == await tool(web_server, "ListSpans", {"trace_id": trace_id, "max_results": 1000})
    router = spans["spans"][1]
    span = httpx2.get(f"{web_server.url}/api/traces/{trace_id}/spans/{router['span_id']}").json()
    assert span == await tool(web_server, "GetSpan", {"trace_id": trace_id, "span_id": router["span_id"], "max_content_length": 50_000})
    assert "triage assistant" in span["inputs"][0]["parts"][0]["content"]


def test_errors_say_what_was_wrong_with_the_tools_messages(web_server: LiveServer) -> None:
    bad = httpx2.get(f"{web_server.url}/api/traces", params={"filter_string": "trace.stauts = 'OK'"})
    assert bad.status_code == 400 and "did you mean 'trace.status'?" in bad.json()["error"]
    missing = httpx2.get(f"{web_server.url}/api/traces/{'0' * 32}")
    assert missing.status_code == 404 and "0" * 32 in missing.json()["error"]
    assert httpx2.get(f"{web_server.url}/api/traces", params={"max_results": "many"}).status_code == 400
    unknown = httpx2.get(f"{web_server.url}/api/nothing/here")
    assert unknown.status_code == 404 and unknown.json()["error"].startswith("no API route /api/nothing/here")


async def test_feedback_from_the_page_is_human_feedback_the_tools_see_and_needs_the_request_header(
    web_server: LiveServer,
) -> None:
    trace_id = httpx2.get(f"{web_server.url}/api/traces", params={"max_results": 1}).json()["traces"][0]["trace_id"]
    url = f"{web_server.url}/api/traces/{trace_id}/feedback"
    body = {"value": False, "rationale": "sent to the wrong specialist", "source_id": "dana"}
    refused = httpx2.post(url, json=body)
    assert refused.status_code == 403 and "X-TraceJudge-Request" in refused.json()["error"]
    assert httpx2.post(url, json={**body, "admin": True}, headers=WRITE).status_code == 400
    assert httpx2.post(url, content=b"[1]", headers=WRITE).status_code == 400
    logged = httpx2.post(url, json=body, headers=WRITE)
    assert logged.status_code == 200, logged.text
    listed = await tool(web_server, "ListAssessments", {"trace_id": trace_id})
    (feedback,) = listed["assessments"]
    assert (feedback["name"], feedback["value"], feedback["source_type"], feedback["source_id"]) == (
        "user_feedback", False, "HUMAN", "dana"
    )
    chips = httpx2.get(f"{web_server.url}/api/traces", params={"max_results": 1}).json()["feedback"][trace_id]
    assert [(c["name"], c["value"]) for c in chips] == [("user_feedback", False)]


def test_every_web_response_carries_a_strict_content_security_policy(web_server: LiveServer) -> None:
    for path in ("/", "/traces/" + "a" * 32, "/static/app.js", "/api/traces", "/no/such/page"):
        response = httpx2.get(f"{web_server.url}{path}")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe" not in policy and "http" not in policy, path
        assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    assert httpx2.get(f"{web_server.url}/static/app.js").headers["content-type"].startswith("text/javascript")


def test_the_front_end_loads_nothing_from_outside_and_ships_its_licences() -> None:
    scripts = sorted(STATIC.rglob("*.js"))
    assert {p.name for p in scripts} >= {"app.js", "preact.module.js", "hooks.module.js", "htm.module.js"}
    for script in scripts:
        source = script.read_text()
        for target in re.findall(r"""(?:import|from)\s*\(?\s*["']([^"']+)["']""", source):  # import("./x.js") too
            assert target.startswith("./") and (script.parent / target).resolve().exists(), (script.name, target)
        if script.parent == STATIC:  # our own scripts: Preact itself holds the code for what we never use
            assert "innerHTML" not in source and "eval(" not in source and "new Function" not in source
    assert not re.search(r"https?://", (STATIC / "index.html").read_text())
    assert {"LICENSE.preact", "LICENSE.htm"} <= {p.name for p in (STATIC / "vendor").iterdir()}


@pytest.fixture
def token_server(tmp_path: Path):
    server = demo_server(tmp_path, token="web-s3cret")
    yield server
    server.stop()


def test_with_a_token_the_pages_sign_in_for_a_cookie_that_opens_the_api_only(token_server: LiveServer) -> None:
    url = token_server.url
    assert httpx2.get(f"{url}/api/traces").status_code == 401
    assert httpx2.get(f"{url}/").status_code == 200  # the page shell holds no data: it asks to sign in
    assert httpx2.get(f"{url}/login").json() == {"token_required": True, "signed_in": False, "role": None, "token": None}
    assert httpx2.post(f"{url}/login", json={"token": "guess"}, headers=WRITE).status_code == 401
    assert httpx2.post(f"{url}/login", json={"token": "web-s3cret"}).status_code == 403  # no request header
    signed = httpx2.post(f"{url}/login", json={"token": "web-s3cret"}, headers=WRITE)
    assert signed.status_code == 200
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    session = {COOKIE: signed.cookies[COOKIE]}
    assert httpx2.get(f"{url}/api/traces", cookies=session).status_code == 200
    assert httpx2.get(f"{url}/login", cookies=session).json()["signed_in"] is True
    assert httpx2.get(f"{url}/login", cookies=session).json()["role"] == "admin"  # the server's own token
    forged = {COOKIE: "9999999999.operator." + "0" * 64}
    assert httpx2.get(f"{url}/api/traces", cookies=forged).status_code == 401
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    mcp = httpx2.post(f"{url}/mcp", json=initialize, cookies=session, headers={"accept": "application/json, text/event-stream"})
    assert mcp.status_code == 401  # MCP and OTLP still need the header
    assert httpx2.get(f"{url}/api/traces", headers={"authorization": "Bearer web-s3cret"}).status_code == 200


def test_a_write_from_another_site_is_refused(web_server: LiveServer) -> None:
    trace_id = httpx2.get(f"{web_server.url}/api/traces", params={"max_results": 1}).json()["traces"][0]["trace_id"]
    forged = httpx2.post(
        f"{web_server.url}/api/traces/{trace_id}/feedback", json={"value": True},
        headers={**WRITE, "origin": "https://evil.example"},
    )  # fmt: skip
    assert forged.status_code == 403


def test_a_read_only_server_refuses_every_write_of_the_pages_and_stores_nothing(tmp_path: Path) -> None:
    from mcp_server.web.api import api_routes

    server = demo_server(tmp_path, read_only=True)
    try:
        trace_id = httpx2.get(f"{server.url}/api/traces", timeout=10).json()["traces"][0]["trace_id"]
        before = server.db.reader().execute("SELECT count(*) FROM assessments").fetchone()[0]
        writes = [r.path for r in api_routes(server.db, server.settings, None) if "POST" in (r.methods or ())]
        assert len(writes) >= 15
        for path in writes:  # every write a page can send, its path filled in
            url = server.url + re.sub(r"\{trace_id\}", trace_id, re.sub(r"\{(?!trace_id)[^}]+\}", "x", path))
            answer = httpx2.post(url, json={"name": "thumbs", "value": True}, headers=WRITE, timeout=10)
            assert answer.status_code == 403 and "read-only" in answer.json()["error"], path
        assert server.db.reader().execute("SELECT count(*) FROM assessments").fetchone()[0] == before
    finally:
        server.stop()
