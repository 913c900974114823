"""Scoped tokens on a real server: an ingest token sends traces with the OpenTelemetry SDK and can
reach no MCP tool; a read token sees and calls only the read-only tools; a write token logs feedback,
recorded as its write, and cannot run judges or make tokens; revoked and expired tokens open nothing;
a loopback server without --token closes as soon as a token exists; the store never holds a token."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mcp_server.access.roles import Access
from mcp_server.access.service import create_token, list_writes, revoke_token
from store.errors import InvalidArgument
from tests.support.raw_http import INITIALIZE

SERVER_TOKEN = "the-operators-own-token"


def exported(url: str, token: str) -> bool:
    """Whether the real OTLP exporter's batch, sent with `token`, was accepted."""
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"authorization": f"Bearer {token}"}, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "scoped-agent"}))
    results: list[bool] = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span) -> None:  # noqa: ANN001
            results.append(exporter.export([span]).name == "SUCCESS")

    provider.add_span_processor(Recording(exporter))
    with provider.get_tracer("t").start_as_current_span("agent run"):
        pass
    provider.shutdown()
    return results == [True]


def mcp_post(url: str, token: str) -> httpx2.Response:
    return httpx2.post(f"{url}/mcp", content=INITIALIZE, timeout=10, headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {token}"})  # fmt: skip


async def tools_of(url: str, token: str) -> set[str]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            return {tool.name for tool in (await client.list_tools()).tools}


async def call(url: str, token: str, tool: str, **arguments) -> dict:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def refusal(url: str, token: str, tool: str, **arguments) -> str:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            with pytest.raises(MCPError) as refused:
                await client.call_tool(tool, arguments)
    return str(refused.value)


@pytest.fixture
def server(start_server):
    return start_server(token=SERVER_TOKEN)


def test_an_ingest_token_sends_traces_and_reaches_no_mcp_tool_and_no_page(server) -> None:
    ingest = create_token(server.db, "agent-prod", "ingest").token
    assert exported(server.url, ingest)
    assert server.db.reader().execute("SELECT count(*) FROM spans WHERE name = 'agent run'").fetchone()[0] >= 1
    assert exported(server.url, ingest)  # a second export within the minute: counted, not yet a row of its own
    sent = [(w.via, w.action, w.role) for w in list_writes(server.db, token="agent-prod").writes]
    assert sent == [("otlp", "POST /v1/traces: 1 export", "ingest")]
    refused = mcp_post(server.url, ingest)
    assert refused.status_code == 403
    assert "read token" in refused.json()["message"] and "agent-prod" in refused.json()["message"]
    page_api = httpx2.get(f"{server.url}/api/traces", headers={"authorization": f"Bearer {ingest}"})
    assert page_api.status_code == 403


async def test_a_read_token_sees_only_read_tools_and_is_refused_writes_naming_the_role_they_need(server) -> None:
    read = create_token(server.db, "claude-code", "read").token
    tools = await tools_of(server.url, read)
    assert {"SearchTraces", "GetSpan", "ListAssessments", "ListJudges", "GetEvaluationRun"} <= tools
    assert not tools & {"LogFeedback", "RunJudge", "Evaluate", "CreateToken", "ListTokens", "CreateDataset"}
    trace_id = "0" * 31 + "1"
    message = await refusal(server.url, read, "LogFeedback", trace_id=trace_id, name="ok", value=True)
    assert "needs a write token" in message and "claude-code" in message
    assert "needs an admin token" in await refusal(server.url, read, "Evaluate", judges=["latency"])
    assert not exported(server.url, read)  # a read token cannot add traces either
    assert (await call(server.url, read, "SearchTraces"))["traces"] == []


async def test_a_write_token_logs_feedback_recorded_as_its_write_and_cannot_judge_or_make_tokens(server) -> None:
    ingest = create_token(server.db, "agent", "ingest").token
    assert exported(server.url, ingest)
    write = create_token(server.db, "reviewer", "write").token
    trace_id = (await call(server.url, write, "SearchTraces"))["traces"][0]["trace_id"]
    await call(server.url, write, "LogFeedback", trace_id=trace_id, name="helpful", value=True)
    assert "needs an admin token" in await refusal(server.url, write, "RunJudge", judge="latency", trace_id=trace_id)
    assert "needs an admin token" in await refusal(server.url, write, "CreateToken", name="mine", role="read")
    writes = list_writes(server.db, token="reviewer").writes
    assert [(w.action, w.via, w.role, w.outcome) for w in writes] == [("LogFeedback", "mcp", "write", "ok")]
    # The operator's token is admin: it makes tokens over MCP, and its writes are recorded as the operator's.
    made = await call(server.url, SERVER_TOKEN, "CreateToken", name="ci", role="read")
    assert made["token"].startswith("tjt_") and made["role"] == "read"
    assert list_writes(server.db).writes[0].token is None and list_writes(server.db).writes[0].action == "CreateToken"


def test_no_token_can_make_one_of_a_higher_role(tmp_path) -> None:
    from mcp_server.settings import Settings
    from mcp_server.terminal.commands import open_database

    db = open_database(Settings(db_path=tmp_path / "t.db"))
    for by, role in (("write", "admin"), ("read", "write"), ("read", "admin"), ("ingest", "read"), ("ingest", "ingest")):
        with pytest.raises(InvalidArgument, match="higher role"):
            create_token(db, f"{by}-{role}", role, by=Access(by, "tok-x", by))  # type: ignore[arg-type]
    assert create_token(db, "peer", "write", by=Access("write", "tok-x", "w")).created_by == "w"
    db.close()


async def test_revoked_and_expired_tokens_open_nothing_and_the_store_holds_no_token(server) -> None:
    made = create_token(server.db, "laptop", "read", expires="1h")
    assert mcp_post(server.url, made.token).status_code == 200
    revoke_token(server.db, "laptop")
    refused = mcp_post(server.url, made.token)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    later = create_token(server.db, "old", "read", expires="1h")
    with server.db.transaction() as conn:  # an hour on: the clock is the store's, so move the expiry
        conn.execute("UPDATE tokens SET expires_ns = ? WHERE name = 'old'", (time.time_ns() - 1,))
    assert "expired" in mcp_post(server.url, later.token).json()["message"]
    secret = create_token(server.db, "good", "read").token
    files = [path for path in Path(server.db.path).parent.iterdir() if path.name.startswith(Path(server.db.path).name)]
    assert files and not any(secret.encode() in path.read_bytes() for path in files)  # the file and its WAL


async def test_a_loopback_server_without_a_token_closes_once_a_token_is_made(start_server) -> None:
    open_server = start_server()
    assert "LogFeedback" in await tools_of(open_server.url, "anything")  # no token needed: the operator's
    read = create_token(open_server.db, "first", "read").token
    deadline = time.monotonic() + 10
    while mcp_post(open_server.url, "none").status_code != 401:  # the count of tokens is kept a second
        assert time.monotonic() < deadline, "the server never started asking for a token"
        time.sleep(0.2)
    assert "LogFeedback" not in await tools_of(open_server.url, read)


def test_the_pages_sign_in_with_a_token_take_its_role_and_record_its_writes(server) -> None:
    ingest = create_token(server.db, "agent", "ingest").token
    assert exported(server.url, ingest)
    trace_id = server.db.reader().execute("SELECT trace_id FROM traces").fetchone()[0]
    feedback = {"name": "helpful", "value": True}
    write_header = {"x-tracejudge-request": "1"}
    for name, role, status in (("viewer", "read", 403), ("curator", "write", 200)):
        token = create_token(server.db, name, role).token
        with httpx2.Client(base_url=server.url, headers=write_header) as browser:
            assert browser.post("/login", json={"token": token}).json() == {"signed_in": True, "role": role}
            assert browser.get("/login").json()["role"] == role
            assert browser.get("/api/traces").status_code == 200
            answer = browser.post(f"/api/traces/{trace_id}/feedback", json=feedback)
            assert answer.status_code == status, answer.text
            if status == 403:
                assert "needs a write token" in answer.json()["error"]
            judged = browser.post(f"/api/traces/{trace_id}/judge", json={"judge": "latency"})
            assert judged.status_code == 403 and "needs an admin token" in judged.json()["error"]
    assert [(w.token, w.via, w.action) for w in list_writes(server.db).writes if w.via == "web"] == [
        ("curator", "web", "POST /api/traces/{trace_id}/feedback")]
    with httpx2.Client(base_url=server.url, headers=write_header) as browser:
        refused = browser.post("/login", json={"token": ingest})
        assert refused.status_code == 403 and "may only send traces" in refused.json()["error"]
        viewer = create_token(server.db, "soon-revoked", "read").token
        browser.post("/login", json={"token": viewer})
        assert browser.get("/api/traces").status_code == 200
        revoke_token(server.db, "soon-revoked")
        assert browser.get("/api/traces").status_code == 401  # revoking a token ends its page sessions


def test_exports_are_recorded_once_a_minute_each_row_counting_those_since_the_last(tmp_path) -> None:
    from mcp_server.access.service import ExportTally

    tally, agent, minute = ExportTally(None), Access("ingest", "tok-1", "agent"), 60 * 10**9  # type: ignore[arg-type]
    assert tally.due(agent, "/v1/traces", now_ns=minute) == "POST /v1/traces: 1 export"
    assert [tally.due(agent, "/v1/traces", now_ns=minute + n) for n in range(1, 4)] == [None, None, None]
    assert tally.due(agent, "/v1/logs", now_ns=minute + 5) == "POST /v1/logs: 1 export"  # each path its own
    assert tally.due(agent, "/v1/traces", now_ns=2 * minute + 1) == "POST /v1/traces: 4 exports"
