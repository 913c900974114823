"""Bearer-token protection of /mcp and /v1/traces, and DNS-rebinding protection of /mcp."""

from __future__ import annotations

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "s3cret-token"


def test_with_a_token_both_endpoints_refuse_requests_without_it_and_health_stays_open(start_server) -> None:
    server = start_server(token=TOKEN)
    for path, headers in (("/v1/traces", {"content-type": "application/json"}), ("/mcp", {"content-type": "application/json"})):
        for auth in (None, "Bearer wrong"):
            sent = dict(headers, **({"authorization": auth} if auth else {}))
            response = httpx2.post(f"{server.url}{path}", content=b"{}", headers=sent)
            assert response.status_code == 401, (path, auth)
            assert "Authorization: Bearer" in response.json()["message"]
    assert httpx2.get(f"{server.url}/health").status_code == 200
    response = httpx2.post(
        f"{server.url}/v1/traces",
        content=b'{"resourceSpans": []}',
        headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200


OAUTH_DISCOVERY = (
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/register",
    "/authorize",
    "/token",
)
"""Where an MCP client looks for OAuth after a 401 (the 2025-06-18 authorization spec: RFC 9728, RFC 8414,
dynamic registration at /register, and its default /authorize and /token)."""


def test_with_a_token_the_oauth_discovery_paths_answer_404_so_a_client_knows_there_is_no_oauth(start_server) -> None:
    # A 401 on these made Claude Code report "Dynamic Client Registration rejected (HTTP 401)"
    # instead of asking the user for the bearer token.
    server = start_server(token=TOKEN)
    for path in OAUTH_DISCOVERY:
        for response in (httpx2.get(f"{server.url}{path}"), httpx2.post(f"{server.url}{path}", json={"client_name": "x"})):
            assert response.status_code == 404, path
            assert "Authorization: Bearer" in response.json()["message"], path  # what to do instead
    # while every route to the store, and anything below one, still needs the token
    for path in ("/mcp", "/mcp/", "/mcp/traces", "/v1/traces", "/v1/logs", "/v1/traces/x"):
        response = httpx2.post(f"{server.url}{path}", content=b"{}", headers={"content-type": "application/json"})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_mcp_client_with_the_token_lists_tools_over_http(start_server) -> None:
    server = start_server(token=TOKEN)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client:
            tools = await client.list_tools()
    assert "GetTraceInfo" in {tool.name for tool in tools.tools}


def test_a_foreign_host_header_is_refused_by_dns_rebinding_protection(live_server) -> None:
    response = httpx2.post(
        f"{live_server.url}/mcp",
        content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        headers={"content-type": "application/json", "accept": "application/json, text/event-stream", "host": "evil.example:80"},
    )
    assert response.status_code in (403, 421)


def test_otlp_refuses_a_foreign_host_or_origin_and_health_answers_any(live_server) -> None:
    body = b'{"resourceSpans": []}'
    json_headers = {"content-type": "application/json"}
    foreign_host = httpx2.post(f"{live_server.url}/v1/traces", content=body, headers={**json_headers, "host": "evil.example:8080"})
    assert foreign_host.status_code == 421
    assert "--allowed-host" in foreign_host.json()["message"]
    foreign_origin = httpx2.post(
        f"{live_server.url}/v1/traces", content=body, headers={**json_headers, "origin": "http://evil.example"}
    )
    assert foreign_origin.status_code == 403
    assert httpx2.get(f"{live_server.url}/health", headers={"host": "evil.example"}).status_code == 200
    assert httpx2.post(f"{live_server.url}/v1/traces", content=body, headers=json_headers).status_code == 200


def test_an_allowed_host_is_accepted_on_both_endpoints(start_server) -> None:
    server = start_server(allowed_hosts=["traces.internal:*"])
    response = httpx2.post(
        f"{server.url}/v1/traces",
        content=b'{"resourceSpans": []}',
        headers={"content-type": "application/json", "host": "traces.internal:8080"},
    )
    assert response.status_code == 200
