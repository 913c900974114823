"""Fixtures for optimization: the scripted OpenAI-compatible server and settings pointing at it."""

from __future__ import annotations

import pytest

from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai

__all__ = ["scripted_openai"]


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    """The default judge (and reflection) model is served by the scripted server, retries in
    milliseconds. gpt-4o-mini is in litellm's price map, so calls cost something."""
    return Settings(
        models=ModelSettings(
            judge_model="openai:/gpt-4o-mini",
            api_base=scripted_openai.url,
            api_key="sk-scripted",
            max_attempts=2,
            initial_backoff_s=0.001,
            max_backoff_s=0.005,
            timeout_s=10,
        )
    )
