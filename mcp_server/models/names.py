"""Model names: MLflow's `provider:/model` and litellm's `provider/model`, normalized to litellm's.

`sampling` is reserved: it names the connected MCP client's own model (MCP sampling). A name
never holds a URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_server.models.errors import InvalidModelName

SAMPLING = "sampling"
JUDGE_API_BASE_ENV = "TRACEJUDGE_JUDGE_API_BASE"  # here rather than in settings, which imports this module

# MLflow provider names that litellm spells differently. MLflow's `endpoints:/name` is a
# Databricks model-serving endpoint, which litellm calls `databricks/name`.
_MLFLOW_PROVIDER_ALIASES = {"endpoints": "databricks"}

_EXAMPLES = "'openai:/gpt-4o-mini', 'anthropic/claude-sonnet-4-5', 'ollama/llama3'"


@dataclass(frozen=True)
class ModelName:
    """A parsed model name. `provider` is None for a bare name litellm resolves itself (`gpt-4o`)."""

    provider: str | None
    model: str

    @property
    def is_sampling(self) -> bool:
        return self.provider is None and self.model == SAMPLING

    @property
    def litellm_name(self) -> str:
        """The name litellm expects: `provider/model`, or the bare name."""
        return self.model if self.provider is None else f"{self.provider}/{self.model}"

    def __str__(self) -> str:
        return self.litellm_name


def parse_model_name(name: str) -> ModelName:
    """Parse `provider:/model`, `provider/model`, a bare litellm name, or `sampling`.

    Only `:/` marks MLflow's form, so Ollama tags (`ollama/llama3:8b`) and model paths with
    slashes (`hosted_vllm/meta-llama/Llama-3.1-8B`) keep their meaning.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidModelName(
            f"model name {name!r} is empty; name a model such as {_EXAMPLES}, or 'sampling'."
        )
    text = name.strip()
    if text == SAMPLING:
        return ModelName(None, SAMPLING)
    if "://" in text:
        # litellm sends some providers' requests to a model name that is a URL (huggingface,
        # oobabooga): where a model is served is the operator's setting, never part of its name.
        raise InvalidModelName(
            f"model name {name!r} holds a URL; a model name only names a model, e.g. {_EXAMPLES}. The "
            f"server the default judge model is called at is the operator's setting, {JUDGE_API_BASE_ENV}."
        )
    if any(c.isspace() for c in text):
        raise InvalidModelName(
            f"model name {name!r} contains whitespace; write it as 'provider:/model' or "
            f"'provider/model', e.g. {_EXAMPLES}."
        )
    if ":/" in text:
        provider, _, model = text.partition(":/")
    elif "/" in text:
        provider, _, model = text.partition("/")
    else:
        return ModelName(None, text)
    if not provider or not model or model.startswith("/"):
        raise InvalidModelName(
            f"model name {name!r} lacks a provider or a model; write it as 'provider:/model' "
            f"or 'provider/model', e.g. {_EXAMPLES}."
        )
    provider = provider.lower()
    return ModelName(_MLFLOW_PROVIDER_ALIASES.get(provider, provider), model)


def normalize_model_name(name: str) -> str:
    """The litellm form of any accepted model name (`openai:/gpt-4o` -> `openai/gpt-4o`)."""
    return parse_model_name(name).litellm_name
