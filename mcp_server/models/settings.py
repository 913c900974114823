"""ModelSettings: the default judge model, where it is served, which models a client's judges
may call, timeouts and retries.

Built by the caller (from mcp_server.settings.Settings, or directly in tests) and passed to
`complete`; nothing in this package reads the environment. Provider keys (OPENAI_API_KEY ...) are
the exception that is not ours: litellm reads them itself when a call names no api_key.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from mcp_server.models.names import JUDGE_API_BASE_ENV, SAMPLING, parse_model_name

# The variables the CLI reads into ModelSettings; named here because error messages quote them.
JUDGE_MODEL_ENV = "TRACEJUDGE_JUDGE_MODEL"
ALLOWED_MODELS_ENV = "TRACEJUDGE_ALLOWED_MODELS"
JUDGE_API_KEY_ENV = "TRACEJUDGE_JUDGE_API_KEY"
JUDGE_TIMEOUT_ENV = "TRACEJUDGE_JUDGE_TIMEOUT_S"
JUDGE_MAX_ATTEMPTS_ENV = "TRACEJUDGE_JUDGE_MAX_ATTEMPTS"


class ModelSettings(BaseModel):
    """How judges reach their model. Every field has a working default except the model itself."""

    model_config = {"frozen": True}

    judge_model: str | None = Field(
        None,
        description=f"Default judge model ({JUDGE_MODEL_ENV}), 'provider:/model' or "
        "'provider/model', e.g. 'openai:/gpt-4o-mini'; 'sampling' asks the MCP client's model.",
    )
    api_base: str | None = Field(
        None,
        description=f"Base URL serving the default judge model ({JUDGE_API_BASE_ENV}), e.g. a "
        "local vLLM or Ollama server; used by calls to the default judge model only.",
    )
    api_key: SecretStr | None = Field(
        None,
        description=f"Key for the default judge model ({JUDGE_API_KEY_ENV}); without it litellm "
        "reads the provider's usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY ...).",
    )
    allowed_models: tuple[str, ...] | None = Field(
        (SAMPLING,),
        description=f"Models an MCP client's judges may call ({ALLOWED_MODELS_ENV}, comma-separated) "
        "besides the default judge model, which is always allowed; 'sampling' is the client's own model, "
        "which costs the server nothing. None lifts the check: the CLI, which the operator runs, may "
        "call any model.",
    )
    timeout_s: float = Field(
        120.0, gt=0, description=f"Seconds one attempt may take ({JUDGE_TIMEOUT_ENV})."
    )
    max_attempts: int = Field(
        4, ge=1, le=20,
        description=f"Attempts per call on 429, 5xx and connection errors ({JUDGE_MAX_ATTEMPTS_ENV}).",
    )
    initial_backoff_s: float = Field(
        1.0, ge=0, description="Wait before the first retry; doubled each retry, with jitter."
    )
    max_backoff_s: float = Field(
        30.0, ge=0, description="Longest wait between attempts, Retry-After included."
    )

    @field_validator("allowed_models", mode="before")
    @classmethod
    def _allowed_parse(cls, value: object) -> object:
        if value is None:
            return None
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple):
            return value  # pydantic says what type it wanted
        # Kept in litellm's form, so 'openai:/gpt-4o' and 'openai/gpt-4o' are one entry.
        return tuple(dict.fromkeys(parse_model_name(n).litellm_name for n in names if str(n).strip()))

    @field_validator("judge_model")
    @classmethod
    def _model_parses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_model_name(value)  # raises InvalidModelName with the accepted forms
        return value.strip()
