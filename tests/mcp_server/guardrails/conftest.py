"""Fixtures for guardrails: the scripted OpenAI-compatible server that stored LLM judges call."""

from __future__ import annotations

from tests.support.scripted_openai import scripted_openai

__all__ = ["scripted_openai"]
