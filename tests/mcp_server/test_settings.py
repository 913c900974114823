"""Settings come from TRACEJUDGE_* variables once, with CLI flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.settings import DEFAULT_DB_PATH, settings_from_env
from store.errors import InvalidArgument


def test_defaults_bind_loopback_and_use_the_home_database() -> None:
    settings = settings_from_env({})
    assert (settings.host, settings.port, settings.db_path, settings.token) == ("127.0.0.1", 8080, DEFAULT_DB_PATH, None)
    assert settings.models.judge_model is None


def test_environment_then_flags(tmp_path: Path) -> None:
    env = {
        "TRACEJUDGE_DB": str(tmp_path / "x.db"),
        "TRACEJUDGE_TOKEN": "t0k",
        "TRACEJUDGE_PORT": "9000",
        "TRACEJUDGE_ALLOWED_HOSTS": "a.example:*, b.example:8080",
        "TRACEJUDGE_JUDGE_MODEL": "openai:/gpt-4o-mini",
        "TRACEJUDGE_JUDGE_API_BASE": "http://127.0.0.1:11434/v1",
        "TRACEJUDGE_JUDGE_MAX_ATTEMPTS": "2",
    }
    settings = settings_from_env(env, port=9100)
    assert settings.db_path == tmp_path / "x.db" and settings.token == "t0k" and settings.port == 9100
    assert settings.allowed_hosts == ["a.example:*", "b.example:8080"]
    assert settings.models.judge_model == "openai:/gpt-4o-mini"
    assert settings.models.api_base == "http://127.0.0.1:11434/v1" and settings.models.max_attempts == 2


def test_a_bad_value_names_the_field() -> None:
    with pytest.raises(InvalidArgument, match="port"):
        settings_from_env({"TRACEJUDGE_PORT": "eighty"})


def test_a_token_file_gives_the_token_without_one_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-the-file\r\n")
    settings = settings_from_env({"TRACEJUDGE_TOKEN_FILE": str(path), "TRACEJUDGE_TRUSTED_NETWORK": "1"})
    assert (settings.token, settings.token_file, settings.trusted_network) == ("from-the-file", path, True)
    path.write_text("two-newlines\n\n")
    with pytest.raises(InvalidArgument, match="printable ASCII"):
        settings_from_env({"TRACEJUDGE_TOKEN_FILE": str(path)})


def test_a_flag_naming_the_token_replaces_the_environments_and_two_sources_at_once_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-the-file")
    assert settings_from_env({"TRACEJUDGE_TOKEN": "from-env"}, token_file=path).token == "from-the-file"
    flagged = settings_from_env({"TRACEJUDGE_TOKEN_FILE": str(path)}, token="from-flag")
    assert (flagged.token, flagged.token_file) == ("from-flag", None)
    with pytest.raises(InvalidArgument, match="keep one"):
        settings_from_env({"TRACEJUDGE_TOKEN": "from-env", "TRACEJUDGE_TOKEN_FILE": str(path)})


@pytest.mark.parametrize("token", [" padded", "tab\tinside", "caf\u00e9"])
def test_a_token_no_http_header_could_carry_intact_is_refused_without_quoting_it(token: str) -> None:
    with pytest.raises(InvalidArgument, match="printable ASCII") as refused:
        settings_from_env({"TRACEJUDGE_TOKEN": token})
    assert token not in str(refused.value)
