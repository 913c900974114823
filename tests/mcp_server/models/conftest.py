"""Fixtures for the model layer: the scripted OpenAI-compatible server and fast retry settings."""

from __future__ import annotations

import pytest

from mcp_server.models import ModelSettings
from tests.support.scripted_openai import scripted_openai

__all__ = ["scripted_openai"]


@pytest.fixture
def fast() -> ModelSettings:
    """Settings whose waits are milliseconds, so retry tests stay fast; any model may be named, as
    in the operator's own calls (the allow-list for clients has tests of its own)."""
    return ModelSettings(
        max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.05, timeout_s=10, allowed_models=None
    )

