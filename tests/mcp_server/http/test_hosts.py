"""Host and Origin are parsed and compared exactly, on /mcp, /v1/traces and /v1/logs alike, with raw HTTP
requests that set the headers a non-browser client (or a rebinding page) would send."""

from __future__ import annotations

import pytest

from tests.support.raw_http import BODIES, port_of, post

TOKEN = "s3cret-token"


@pytest.mark.parametrize("path", sorted(BODIES))
def test_host_and_origin_that_only_start_with_a_loopback_name_are_refused(live_server, path) -> None:
    port = port_of(live_server)
    for host in (
        f"127.0.0.1:{port}.evil.example",
        f"localhost:{port}@evil.example",
        f"[::1]:{port}.evil.example",
        f"127.0.0.1:{port}:80",
        f"127.0.0.1.evil.example:{port}",
        f"localhost:{port} evil.example",
        "evil.example",
        "",
    ):
        response = post(live_server, path, host=host)
        assert response.status_code == 421, (host, response.text)
        assert "--allowed-host" in response.json()["message"]
    for origin in (
        f"http://127.0.0.1:{port}.evil.example",
        f"http://localhost:{port}@evil.example",
        f"http://localhost.evil.example:{port}",
        f"http://127.0.0.1:{port}/path",
        f"ftp://127.0.0.1:{port}",
        "null",
    ):
        response = post(live_server, path, origin=origin)
        assert response.status_code == 403, (origin, response.text)


@pytest.mark.parametrize("path", sorted(BODIES))
def test_loopback_names_are_accepted_in_any_case_with_or_without_a_port(live_server, path) -> None:
    port = port_of(live_server)
    hosts = (f"127.0.0.1:{port}", "127.0.0.1", f"LOCALHOST:{port}", "localhost", f"[::1]:{port}", "[::1]", "[0:0::1]:80")
    for host in hosts:
        response = post(live_server, path, host=host)
        assert response.status_code == 200, (host, response.text)
    for origin in (f"http://127.0.0.1:{port}", "http://localhost", f"HTTPS://LocalHost:{port}", "http://[::1]"):
        response = post(live_server, path, origin=origin)
        assert response.status_code == 200, (origin, response.text)


@pytest.mark.parametrize("path", sorted(BODIES))
def test_a_listed_host_matches_its_name_and_port_exactly_and_origins_use_default_ports(start_server, path) -> None:
    server = start_server(allowed_hosts=["Traces.Internal:8080", "proxy.example", "any.example:*"])
    accepted_hosts = ("traces.internal:8080", "TRACES.INTERNAL:8080", "proxy.example", "any.example", "any.example:9")
    for host in accepted_hosts:
        assert post(server, path, host=host).status_code == 200, host
    for host in ("traces.internal:8081", "traces.internal", "traces.internal:8080.evil.example", "proxy.example:8080"):
        assert post(server, path, host=host).status_code == 421, host
    accepted_origins = (
        "http://traces.internal:8080", "https://proxy.example", "https://proxy.example:443", "http://proxy.example:80"
    )  # fmt: skip
    for origin in accepted_origins:
        assert post(server, path, origin=origin).status_code == 200, origin
    for origin in ("http://traces.internal", "https://proxy.example:8443", "http://proxy.example:443"):
        assert post(server, path, origin=origin).status_code == 403, origin


@pytest.mark.parametrize("path", sorted(BODIES))
def test_beyond_loopback_only_the_listed_names_pass_and_loopback_ones_only_when_listed(start_server, path) -> None:
    server = start_server(host="0.0.0.0", token=TOKEN, allowed_hosts=["traces.example:8080"])
    auth = {"authorization": f"Bearer {TOKEN}"}
    port = port_of(server)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        response = post(server, path, host=host, **auth)
        assert response.status_code == 421, (host, response.text)
    assert post(server, path, host="traces.example:8080", **auth).status_code == 200
    assert post(server, path, host="traces.example:8080", origin=f"http://localhost:{port}", **auth).status_code == 403
    listed = start_server(host="0.0.0.0", token=TOKEN, allowed_hosts=["127.0.0.1:8080"])
    assert post(listed, path, host="127.0.0.1:8080", **auth).status_code == 200
