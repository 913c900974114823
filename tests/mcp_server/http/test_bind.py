"""Listening beyond loopback is a decision the operator states: a token (or --trusted-network) and
the Host names clients use, or the server does not start."""

from __future__ import annotations

import pytest

from tests.support.processes import serve_exit
from tests.support.raw_http import BODIES, post

# Every case here is refused before binding, so no test listens beyond loopback.


@pytest.mark.slow
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_serve_beyond_loopback_without_a_token_refuses_to_start_and_names_the_fixes(tmp_path, host) -> None:
    result = serve_exit(tmp_path / "w.db", "--host", host, "--allowed-host", "traces.example:8080")
    assert result.returncode == 2, result.stderr
    for fix in ("TRACEJUDGE_TOKEN_FILE", "--token-file", "--trusted-network"):
        assert fix in result.stderr
    assert not (tmp_path / "w.db").exists()


@pytest.mark.slow
def test_serve_beyond_loopback_without_allowed_hosts_refuses_to_start_even_on_a_trusted_network(tmp_path) -> None:
    for args, env in (
        (("--host", "0.0.0.0", "--token", "t0ken-for-the-test"), {}),
        (("--host", "0.0.0.0", "--trusted-network"), {}),
        ((), {"TRACEJUDGE_TRUSTED_NETWORK": "1", "TRACEJUDGE_HOST": "0.0.0.0"}),
    ):
        result = serve_exit(tmp_path / "w.db", *args, env=env)
        assert result.returncode == 2, (args, env, result.stderr)
        assert "--allowed-host NAME:PORT" in result.stderr and "TRACEJUDGE_ALLOWED_HOSTS" in result.stderr


@pytest.mark.slow
def test_a_bad_allowed_host_is_refused_at_start_with_the_forms_accepted(tmp_path) -> None:
    result = serve_exit(tmp_path / "w.db", "--allowed-host", "http://traces.example/")
    assert result.returncode == 2, result.stderr
    assert "'http://traces.example/'" in result.stderr and "NAME:PORT" in result.stderr


@pytest.mark.parametrize("path", sorted(BODIES))
def test_a_trusted_network_needs_no_token_but_still_checks_the_host(start_server, path) -> None:
    server = start_server(host="0.0.0.0", trusted_network=True, allowed_hosts=["traces.example:8080"])
    assert post(server, path, host="traces.example:8080").status_code == 200
    assert post(server, path, host="evil.example:8080").status_code == 421
