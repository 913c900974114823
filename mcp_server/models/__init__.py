"""The model layer every judge calls: model names, settings, `complete`, and their errors.

Importing this package does not import litellm; the first `complete` call does.
"""

from mcp_server.models.completion import complete
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
from mcp_server.models.sampling import Sampler, sampling_route
from mcp_server.models.settings import ModelSettings
from mcp_server.models.target import ModelTarget, check_model_allowed, resolve_model

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
