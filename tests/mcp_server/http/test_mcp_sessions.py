"""MCP sessions over streamable HTTP are bounded: per client and in all, idle ones expire, and at a
bound the longest-idle session is closed so that a new client is never turned away by stale ones."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.live_server import LiveServer

VERSION = "2025-06-18"
ACCEPT = {"accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "stale", "version": "1"}},
}


def _client(address: str = "127.0.0.1") -> httpx2.Client:
    return httpx2.Client(transport=httpx2.HTTPTransport(local_address=address), timeout=30)


def _open(http: httpx2.Client, server: LiveServer, path: str = "/mcp") -> str:
    """An initialize without DELETE, as a client that crashes or forgets sends: a stale session."""
    response = http.post(f"{server.url}{path}", json=INITIALIZE, headers=ACCEPT)
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


def _alive(http: httpx2.Client, server: LiveServer, session_id: str) -> bool:
    response = http.post(
        f"{server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
        headers={**ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": VERSION},
    )
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


async def _handshake_client_lists_tools(server: LiveServer) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode="legacy") as client:
            tools = await client.list_tools()
    assert "GetTraceInfo" in {tool.name for tool in tools.tools}


async def test_stale_sessions_past_the_per_client_bound_close_the_oldest_and_new_clients_connect(
    live_server: LiveServer,
) -> None:
    """The default bound is 100 sessions per client address."""
    with _client() as http:
        sessions = [_open(http, live_server) for _ in range(105)]
        assert [_alive(http, live_server, s) for s in sessions[:5]] == [False] * 5
        assert _alive(http, live_server, sessions[5]) and _alive(http, live_server, sessions[-1])
    await _handshake_client_lists_tools(live_server)


def test_past_the_total_bound_the_longest_idle_session_of_any_client_is_closed(start_server) -> None:
    server = start_server(max_sessions=4, max_sessions_per_client=3)
    with _client("127.0.0.1") as a, _client("127.0.0.2") as b:
        a1, a2, a3 = (_open(a, server) for _ in range(3))
        b1, b2 = _open(b, server), _open(b, server)
        assert not _alive(a, server, a1)
        assert all(_alive(c, server, s) for c, s in ((a, a2), (a, a3), (b, b1), (b, b2)))


def test_sessions_opened_at_a_toolsets_url_count_towards_the_same_bounds(start_server) -> None:
    """/mcp/<toolsets> is the same endpoint and the same sessions as /mcp, so it cannot be used to
    go past the bounds."""
    server = start_server(max_sessions=4, max_sessions_per_client=3)
    with _client() as http:
        first = _open(http, server, "/mcp/traces")
        others = [_open(http, server, path) for path in ("/mcp", "/mcp/traces,judges", "/mcp/feedback")]
        assert not _alive(http, server, first)
        assert all(_alive(http, server, s) for s in others)


def test_an_idle_session_expires_after_the_idle_timeout(start_server) -> None:
    server = start_server(session_idle_timeout_s=1)
    with _client() as http:
        session = _open(http, server)
        # Each look is a request, which restarts the countdown: look only after longer than it.
        for _ in range(10):
            time.sleep(1.5)
            if not _alive(http, server, session):
                break
        assert not _alive(http, server, session)


def test_a_busy_session_is_never_closed_and_when_all_are_busy_a_new_one_is_refused_with_503(start_server) -> None:
    server = start_server(max_sessions=1)
    with _client() as http:
        busy = _open(http, server)
        headers = {"accept": "text/event-stream", "mcp-session-id": busy, "mcp-protocol-version": VERSION}
        with http.stream("GET", f"{server.url}/mcp", headers=headers) as stream:  # open: the session is busy
            assert stream.status_code == 200
            refused = http.post(f"{server.url}/mcp", json=INITIALIZE, headers=ACCEPT)
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
            assert "TRACEJUDGE_MAX_SESSIONS" in refused.json()["error"]["message"]
        assert _alive(http, server, busy)


def test_only_an_initialize_without_a_session_may_close_an_idle_session_to_make_room(start_server) -> None:
    """A GET or any other request without mcp-session-id opens nothing: it is answered 400 and
    takes no one's place, so it cannot be used to close other clients' sessions."""
    server = start_server(max_sessions=1)
    with _client() as http:
        session = _open(http, server)
        stream = http.get(f"{server.url}/mcp", headers={"accept": "text/event-stream"})
        ping = http.post(f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=ACCEPT)
        assert _alive(http, server, session)
        for refused in (stream, ping):
            assert refused.status_code == 400, refused.text
            assert "mcp-session-id" in refused.json()["error"]["message"]
            assert "initialize" in refused.json()["error"]["message"]


@pytest.mark.parametrize("header", ["mcp-session-id", "mcp-protocol-version"])
def test_a_request_repeating_a_session_header_is_refused_with_400_naming_it(start_server, header: str) -> None:
    """Two copies could be read differently by the session bound and by the SDK: with the version
    twice, an initialize counted as per-request traffic would open a session past the bound."""
    server = start_server(max_sessions=1)
    with _client() as http:
        session = _open(http, server)
        if header == "mcp-session-id":
            body = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            headers = [("mcp-session-id", session), ("mcp-session-id", session), ("mcp-protocol-version", VERSION)]
        else:
            body = INITIALIZE
            headers = [("mcp-protocol-version", VERSION), ("mcp-protocol-version", "2099-01-01")]
        response = http.post(f"{server.url}/mcp", json=body, headers=[*ACCEPT.items(), *headers])
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert header in message and "once" in message
        assert _alive(http, server, session)


def _stream(http: httpx2.Client, server: LiveServer, session_id: str) -> AbstractContextManager[httpx2.Response]:
    headers = {"accept": "text/event-stream", "mcp-session-id": session_id, "mcp-protocol-version": VERSION}
    return http.stream("GET", f"{server.url}/mcp", headers=headers)


def _ends(stream: httpx2.Response, within_s: float = 20) -> bool:
    """Whether the stream's response ends (keep-alive comments may arrive meanwhile)."""
    deadline = time.monotonic() + within_s
    for _ in stream.iter_bytes():
        if time.monotonic() > deadline:
            return False
    return True


def _stream_open(http: httpx2.Client, server: LiveServer, session_id: str) -> bool:
    """The SDK allows one GET stream per session: a second is 409 while the first is open."""
    with _stream(http, server, session_id) as probe:
        assert probe.status_code in (200, 409)
        return probe.status_code == 409


def test_past_the_stream_bound_the_longest_open_stream_ends_and_its_session_stays(start_server) -> None:
    server = start_server(max_streams=2)
    with _client() as http:
        first, second, third = (_open(http, server) for _ in range(3))
        with (
            _stream(http, server, first) as oldest,
            _stream(http, server, second),
            _stream(http, server, third) as newest,
        ):
            assert newest.status_code == 200
            assert _ends(oldest)
            assert _stream_open(http, server, second) and _stream_open(http, server, third)
        assert _alive(http, server, first)


def test_past_the_per_client_stream_bound_that_clients_longest_open_stream_ends(start_server) -> None:
    server = start_server(max_streams_per_client=1)
    with _client("127.0.0.1") as a, _client("127.0.0.2") as b:
        a1, a2, b1 = _open(a, server), _open(a, server), _open(b, server)
        with _stream(a, server, a1) as oldest, _stream(b, server, b1), _stream(a, server, a2) as newest:
            assert newest.status_code == 200
            assert _ends(oldest)
            assert _stream_open(b, server, b1) and _stream_open(a, server, a2)
