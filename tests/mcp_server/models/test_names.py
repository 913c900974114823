"""Model names: MLflow's and litellm's forms normalize to litellm's; `sampling` is reserved."""

from __future__ import annotations

import pytest

from mcp_server.models import InvalidModelName, normalize_model_name, parse_model_name


@pytest.mark.parametrize(
    ("given", "litellm_name"),
    [
        ("openai:/gpt-4o-mini", "openai/gpt-4o-mini"),
        ("anthropic:/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
        ("openai/gpt-4o-mini", "openai/gpt-4o-mini"),
        ("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
        ("OpenAI:/gpt-4o", "openai/gpt-4o"),  # providers are lowercase in litellm
        ("  gemini:/gemini-2.5-flash  ", "gemini/gemini-2.5-flash"),
        ("ollama/llama3:8b", "ollama/llama3:8b"),  # an Ollama tag is not MLflow's ':/'
        ("ollama:/llama3:8b", "ollama/llama3:8b"),
        ("hosted_vllm/meta-llama/Llama-3.1-8B-Instruct", "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct"),
        ("hosted_vllm:/meta-llama/Llama-3.1-8B-Instruct", "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct"),
        ("bedrock:/anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("endpoints:/my-serving-endpoint", "databricks/my-serving-endpoint"),  # MLflow's Databricks form
        ("gpt-4o-mini", "gpt-4o-mini"),  # a bare name litellm resolves itself
        ("sampling", "sampling"),
    ],
)
def test_names_normalize_to_litellm_form(given: str, litellm_name: str) -> None:
    assert normalize_model_name(given) == litellm_name


def test_provider_and_model_are_split_at_the_first_separator_only() -> None:
    name = parse_model_name("openai:/ft:gpt-4o-mini:org:custom:abc123")
    assert (name.provider, name.model) == ("openai", "ft:gpt-4o-mini:org:custom:abc123")
    assert parse_model_name("gpt-4o").provider is None


def test_sampling_is_reserved_and_nothing_else_is_sampling() -> None:
    assert parse_model_name("sampling").is_sampling
    assert parse_model_name(" sampling ").is_sampling
    assert not parse_model_name("openai/sampling").is_sampling


@pytest.mark.parametrize("bad", ["", "   ", "openai:/", ":/gpt-4o", "openai/", "/gpt-4o", "openai:/ gpt-4o",
                                 "open ai/gpt-4o"])
def test_malformed_names_are_rejected_with_the_accepted_forms(bad: str) -> None:
    with pytest.raises(InvalidModelName) as caught:
        parse_model_name(bad)
    assert "provider" in str(caught.value) or "empty" in str(caught.value)
    assert "openai:/gpt-4o-mini" in str(caught.value)


@pytest.mark.parametrize("with_url", ["openai://gpt-4o", "openai:/http://127.0.0.1:9/v1", "huggingface/https://x.example/m"])
def test_a_name_holding_a_url_is_rejected_pointing_at_the_operators_api_base(with_url: str) -> None:
    with pytest.raises(InvalidModelName, match="holds a URL.*TRACEJUDGE_JUDGE_API_BASE"):
        parse_model_name(with_url)
