"""Fixtures for judges: the scripted OpenAI-compatible server and settings pointing at it."""

from __future__ import annotations

import pytest

from mcp_server.settings import Settings
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    """Settings whose default judge model is served by the scripted server, with fast retries.
    gpt-4o-mini is a model litellm knows supports response_format, so the schema goes there."""
    return scripted_settings(scripted_openai, max_backoff_s=0.01)
