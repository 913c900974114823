"""The model layer every judge calls: model names, settings, `complete`, and their errors.

Importing this package imports neither litellm (the first `complete` call does) nor the MCP SDK
(the first use of `complete`, `Sampler` or `sampling_route` does): the settings every CLI command
reads live here, and a command that calls no model should not pay seconds of imports to start.
"""

from typing import TYPE_CHECKING, Any

from mcp_server.models.errors import (
    BudgetExhausted,
    ContextLengthExceeded,
    InvalidModelName,
    ModelAuthError,
    ModelConfigurationError,
    ModelError,
    ModelNotAllowed,
    ModelNotConfigured,
    ModelNotFound,
    ModelRateLimited,
    ModelRequestRejected,
    ModelTimeout,
    ModelUnavailable,
    ModelUnreachable,
    PersistentModelError,
    QuotaExhausted,
    SamplingRejected,
    SamplingUnavailable,
    StructuredOutputError,
)
from mcp_server.models.names import SAMPLING, ModelName, normalize_model_name, parse_model_name
from mcp_server.models.results import Completion, ToolCall, Usage
from mcp_server.models.retry import RetryNotice
from mcp_server.models.settings import ModelSettings
from mcp_server.models.target import ModelTarget, check_model_allowed, resolve_model

if TYPE_CHECKING:
    from mcp_server.models.completion import complete
    from mcp_server.models.sampling import Sampler, sampling_route

_LAZY = {"complete": "mcp_server.models.completion", "Sampler": "mcp_server.models.sampling",
         "sampling_route": "mcp_server.models.sampling"}  # fmt: skip


def __getattr__(name: str) -> Any:
    # PEP 562: the names whose modules import the MCP SDK are loaded on first use
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SAMPLING",
    "BudgetExhausted",
    "Completion",
    "ContextLengthExceeded",
    "InvalidModelName",
    "ModelAuthError",
    "ModelConfigurationError",
    "ModelError",
    "ModelName",
    "ModelNotAllowed",
    "ModelNotConfigured",
    "ModelNotFound",
    "ModelRateLimited",
    "ModelRequestRejected",
    "ModelSettings",
    "ModelTarget",
    "ModelTimeout",
    "ModelUnavailable",
    "ModelUnreachable",
    "PersistentModelError",
    "QuotaExhausted",
    "RetryNotice",
    "Sampler",
    "SamplingRejected",
    "SamplingUnavailable",
    "StructuredOutputError",
    "ToolCall",
    "Usage",
    "check_model_allowed",
    "complete",
    "normalize_model_name",
    "parse_model_name",
    "resolve_model",
    "sampling_route",
]
