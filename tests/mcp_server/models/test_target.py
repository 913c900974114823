"""Which model a call goes to: the named one or the default, and whose api base and key apply."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.models import InvalidModelName, ModelNotAllowed, ModelNotConfigured, ModelSettings, resolve_model


def test_a_named_model_wins_over_the_default() -> None:
    settings = ModelSettings(judge_model="openai:/gpt-4o", allowed_models=None)
    target = resolve_model("anthropic:/claude-sonnet-4-5", settings)
    assert target.name.litellm_name == "anthropic/claude-sonnet-4-5"


def test_a_model_the_settings_do_not_allow_is_refused_naming_the_allowed_ones() -> None:
    settings = ModelSettings(judge_model="openai:/gpt-4o", allowed_models="anthropic:/claude-sonnet-4-5")
    assert resolve_model("anthropic/claude-sonnet-4-5", settings).name.litellm_name == "anthropic/claude-sonnet-4-5"
    assert resolve_model("openai/gpt-4o", settings).name.litellm_name == "openai/gpt-4o"  # the default, always
    with pytest.raises(ModelNotAllowed) as caught:
        resolve_model("ollama/llama3", settings)
    assert "'openai/gpt-4o', 'anthropic/claude-sonnet-4-5'" in str(caught.value)
    with pytest.raises(ModelNotAllowed):
        resolve_model("sampling", settings)


def test_the_default_model_is_used_when_none_is_named() -> None:
    settings = ModelSettings(judge_model="ollama:/llama3", api_base="http://127.0.0.1:11434")
    target = resolve_model(None, settings)
    assert (target.name.litellm_name, target.api_base) == ("ollama/llama3", "http://127.0.0.1:11434")


def test_the_defaults_api_base_and_key_follow_the_default_model_only() -> None:
    settings = ModelSettings(judge_model="openai/local-llama", api_base="http://127.0.0.1:8000/v1",
                             api_key="sk-local", allowed_models=None)

    same = resolve_model("openai:/local-llama", settings)  # named, in the other form
    other = resolve_model("anthropic/claude-sonnet-4-5", settings)

    assert (same.api_base, same.api_key) == ("http://127.0.0.1:8000/v1", "sk-local")
    assert (other.api_base, other.api_key) == (None, None)


def test_explicit_api_base_and_key_win() -> None:
    settings = ModelSettings(judge_model="openai/m", api_base="http://127.0.0.1:1/v1", api_key="sk-a")
    target = resolve_model(None, settings, api_base="http://127.0.0.1:2/v1", api_key="sk-b")
    assert (target.api_base, target.api_key) == ("http://127.0.0.1:2/v1", "sk-b")


def test_the_key_does_not_show_in_reprs() -> None:
    settings = ModelSettings(judge_model="openai/m", api_key="sk-secret")
    assert "sk-secret" not in repr(settings)
    assert "sk-secret" not in repr(resolve_model(None, settings))


def test_no_model_anywhere_says_what_to_set() -> None:
    with pytest.raises(ModelNotConfigured) as caught:
        resolve_model(None, ModelSettings())
    assert str(caught.value) == (
        "no judge model is configured: set TRACEJUDGE_JUDGE_MODEL (e.g. 'openai:/gpt-4o-mini' or "
        "'anthropic:/claude-sonnet-4-5') and the provider's key (OPENAI_API_KEY, ANTHROPIC_API_KEY, "
        "GEMINI_API_KEY ...), or pass model=...; or run the judge from an MCP client that supports "
        "sampling with model 'sampling', so the client's own model answers and no key is needed here."
    )


def test_sampling_resolves_to_a_sampling_target() -> None:
    assert resolve_model("sampling", ModelSettings()).is_sampling
    assert resolve_model(None, ModelSettings(judge_model="sampling")).is_sampling


def test_a_malformed_default_model_fails_when_the_settings_are_built() -> None:
    with pytest.raises(ValidationError, match="openai:/gpt-4o-mini"):
        ModelSettings(judge_model="openai:/")
    with pytest.raises(InvalidModelName):
        resolve_model("openai:/", ModelSettings())


def test_settings_validate_their_limits() -> None:
    for bad in ({"max_attempts": 0}, {"timeout_s": 0}, {"max_backoff_s": -1}):
        with pytest.raises(ValidationError):
            ModelSettings(**bad)
    assert ModelSettings(judge_model="  ").judge_model is None
