"""The bearer token: the scheme in any case, whitespace as RFC 7235 allows, and a token that reaches
the server from a file or the environment, never from its command line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx2
import pytest

from tests.support.processes import serve, serve_exit, serve_start_output
from tests.support.raw_http import BODIES, post

TOKEN = "s3cret-token-from-a-file"


@pytest.mark.parametrize("path", sorted(BODIES))
def test_the_bearer_scheme_is_case_insensitive_and_any_run_of_spaces_may_follow_it(start_server, path) -> None:
    server = start_server(token=TOKEN)
    spellings = ("Bearer ", "bearer ", "BEARER ", "Bearer   ", "Bearer\t", "bearer \t ")
    for header in (f"{scheme}{TOKEN}" for scheme in spellings):
        response = post(server, path, authorization=header)
        assert response.status_code == 200, (header, response.text)
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer", f"Bearer {TOKEN} {TOKEN}", f"Bearer{TOKEN}"):
        response = post(server, path, authorization=header)
        assert response.status_code == 401, (header, response.text)
        assert "TRACEJUDGE_TOKEN_FILE" in response.json()["message"]


def token_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(content)
    path.chmod(mode)
    return path


def command_lines() -> list[str]:
    """Every process's command line, as any local user can read it from /proc."""
    lines = []
    for entry in Path("/proc").iterdir():
        try:
            lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # not a process, or one that ended while we looked
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("via", ["--token-file", "TRACEJUDGE_TOKEN_FILE"])
def test_a_token_from_a_file_guards_the_server_and_stays_out_of_every_command_line(tmp_path, via) -> None:
    path = token_file(tmp_path, TOKEN + "\n")
    db = tmp_path / "served.db"
    args = ("--token-file", str(path)) if via == "--token-file" else ()
    with serve(db, *args, env={} if args else {"TRACEJUDGE_TOKEN_FILE": str(path)}) as url:
        json_body = {"content-type": "application/json"}
        assert httpx2.post(f"{url}/v1/traces", content=BODIES["/v1/traces"], headers=json_body).status_code == 401
        authorized = {**json_body, "authorization": f"Bearer {TOKEN}"}
        assert httpx2.post(f"{url}/v1/traces", content=BODIES["/v1/traces"], headers=authorized).status_code == 200
        lines = command_lines()
    assert any(str(db) in line for line in lines), "the server's own command line was not found"
    assert not [line for line in lines if TOKEN in line]


@pytest.mark.slow
def test_a_token_on_the_command_line_works_with_a_warning_naming_the_env_and_file_forms(tmp_path) -> None:
    output = serve_start_output(tmp_path / "w.db", "--token", "visible-token")
    assert "health:" in output
    assert "visible" in output and "ps" in output
    assert "TRACEJUDGE_TOKEN" in output and "--token-file" in output


@pytest.mark.slow
def test_a_token_file_others_can_read_is_used_with_a_warning(tmp_path) -> None:
    path = token_file(tmp_path, TOKEN, mode=0o644)
    output = serve_start_output(tmp_path / "w.db", "--token-file", str(path))
    assert "health:" in output
    assert str(path) in output and "chmod 600" in output


@pytest.mark.slow
@pytest.mark.parametrize("content", ["", "\n"])
def test_an_empty_token_file_is_refused_before_serving(tmp_path, content) -> None:
    path = token_file(tmp_path, content)
    result = serve_exit(tmp_path / "w.db", "--token-file", str(path))
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and "is empty" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["missing", "a folder", "write-only"])
def test_an_unreadable_token_file_is_refused_before_serving(tmp_path, kind) -> None:
    if kind == "write-only" and os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = {"missing": tmp_path / "absent", "a folder": tmp_path}.get(kind) or token_file(tmp_path, TOKEN, stat.S_IWUSR)
    result = serve_exit(tmp_path / "w.db", "--token-file", str(path))
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and "could not be read" in result.stderr
    assert not (tmp_path / "w.db").exists()
