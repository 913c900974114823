"""Which model a call goes to, and where: the named model or the default, with its api base and key;
and whether the operator lets a client's call go there at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcp_server.models.errors import ModelNotAllowed, ModelNotConfigured
from mcp_server.models.keys import COMMON_KEY_VARIABLES
from mcp_server.models.names import SAMPLING, ModelName, parse_model_name
from mcp_server.models.settings import ALLOWED_MODELS_ENV, JUDGE_MODEL_ENV, ModelSettings


@dataclass(frozen=True)
class ModelTarget:
    name: ModelName
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @property
    def is_sampling(self) -> bool:
        return self.name.is_sampling


def no_model_message() -> str:
    keys = ", ".join(COMMON_KEY_VARIABLES)
    return (
        f"no judge model is configured: set {JUDGE_MODEL_ENV} (e.g. 'openai:/gpt-4o-mini' or "
        f"'anthropic:/claude-sonnet-4-5') and the provider's key ({keys} ...), or pass model=...; "
        f"or run the judge from an MCP client that supports sampling with model 'sampling', so "
        f"the client's own model answers and no key is needed here."
    )


def check_model_allowed(model: str, settings: ModelSettings) -> None:
    """ModelNotAllowed unless `settings` let a call go to `model`: the default judge model always,
    any other model only when allowed_models lists it (or is None: the operator's own commands)."""
    if settings.allowed_models is None:
        return
    name = parse_model_name(model).litellm_name
    default = parse_model_name(settings.judge_model).litellm_name if settings.judge_model else None
    if name == default or name in settings.allowed_models:
        return
    allowed = ", ".join(repr(m) for m in dict.fromkeys([*([default] if default else []), *settings.allowed_models]))
    raise ModelNotAllowed(
        f"model {name!r} is not one this server calls for a client; it calls {allowed or 'none'} (the "
        f"default judge model, {JUDGE_MODEL_ENV}, and the models listed in {ALLOWED_MODELS_ENV}, "
        f"{SAMPLING!r} being the client's own). Name one of those, or have the server's operator add "
        f"{name!r} to {ALLOWED_MODELS_ENV} (comma-separated) and restart it.",
        model=name,
    )


def resolve_model(
    model: str | None,
    settings: ModelSettings,
    *,
    api_base: str | None = None,
    api_key: str | None = None,
) -> ModelTarget:
    """The model to call: `model`, else the default judge model; raises ModelNotConfigured, and
    ModelNotAllowed for a model the settings do not allow.

    The settings' api_base and api_key belong to the default judge model: they apply when the
    call is for that model (by default or by name), so a judge naming another provider's model
    is not sent to the default model's server. Explicit api_base/api_key always win.
    """
    chosen = model if model is not None and model.strip() else settings.judge_model
    if chosen is None:
        raise ModelNotConfigured(no_model_message())
    name = parse_model_name(chosen)
    check_model_allowed(name.litellm_name, settings)
    is_default = settings.judge_model is not None and (
        parse_model_name(settings.judge_model).litellm_name == name.litellm_name
    )
    if is_default:
        api_base = api_base or settings.api_base
        if api_key is None and settings.api_key is not None:
            api_key = settings.api_key.get_secret_value()
    return ModelTarget(name, api_base, api_key)
