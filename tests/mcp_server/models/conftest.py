"""Fixtures for the model layer: the scripted OpenAI-compatible server and fast retry settings."""

from __future__ import annotations

import pytest

from mcp_server.models import ModelSettings
from mcp_server.models.litellm_import import READONLY_TYPEDDICT_WARNING
from tests.support.scripted_openai import scripted_openai

__all__ = ["scripted_openai"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Until pyproject's filterwarnings carries this entry: pydantic warns (once per model) while
    # building litellm's lazily defined models, and under `error` litellm reports the warning as
    # a connection failure.
    for item in items:
        if "tests/mcp_server/models/" in item.path.as_posix():
            item.add_marker(pytest.mark.filterwarnings(f"ignore:{READONLY_TYPEDDICT_WARNING}:UserWarning"))


@pytest.fixture
def fast() -> ModelSettings:
    """Settings whose waits are milliseconds, so retry tests stay fast."""
    return ModelSettings(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.05, timeout_s=10)

