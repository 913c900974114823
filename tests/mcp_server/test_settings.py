"""Settings come from TRACEJUDGE_* variables once, with CLI flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_server.settings import DEFAULT_DB_PATH, settings_from_env


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
    with pytest.raises(ValidationError, match="port"):
        settings_from_env({"TRACEJUDGE_PORT": "eighty"})
