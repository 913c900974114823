"""The errors the model layer raises on purpose; each message says what went wrong and ends in the fix.

They subclass TraceJudgeError, so the tool boundary turns them into ToolError and the CLI prints
them. Provider keys never appear in a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.errors import TraceJudgeError

if TYPE_CHECKING:
    from mcp_server.models.results import Completion


class ModelError(TraceJudgeError):
    """Base class: a model call that could not give an answer."""

    def __init__(self, message: str, *, model: str | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.model = model
        self.attempts = attempts


class PersistentModelError(ModelError):
    """Not about this call or this trace: every later call would meet it alike. A judgment that has
    spent nothing raises it rather than giving an error verdict, so a run stops at once instead of
    recording the same error on every pair."""


class ModelConfigurationError(PersistentModelError):
    """The model cannot be called as the server is configured: no model is set, the server does
    not allow it, its name routes nowhere, its provider does not know it (404), its credentials are
    refused, or its server is unreachable."""


class InvalidModelName(ModelConfigurationError, ValueError):
    """A model name that is neither `provider:/model` (MLflow) nor `provider/model` (litellm), or that holds a URL."""


class ModelNotConfigured(ModelConfigurationError):
    """No model was named and no default judge model is set."""


class SamplingUnavailable(ModelNotConfigured):
    """The model is `sampling`, but this call has no MCP client to sample from."""


class ModelNotAllowed(ModelConfigurationError):
    """A model the operator did not allow a client to call (ModelSettings.allowed_models)."""


class ModelAuthError(ModelConfigurationError):
    """The provider refused the credentials, or none were found."""


class ModelRequestRejected(ModelError):
    """The provider answered 4xx: the request itself is wrong and sending it again will not help."""


class ModelNotFound(ModelRequestRejected, ModelConfigurationError):
    """The provider answered 404: it serves no such model (or api_base points at the wrong server)."""


class SamplingRejected(ModelRequestRejected):
    """The MCP client refused the sampling request or failed to answer it (the user declined, its model failed)."""


class ContextLengthExceeded(ModelRequestRejected):
    """The prompt is longer than the model's context window."""


class ModelUnavailable(ModelError):
    """5xx answers or connection failures, on every attempt."""


class ModelRateLimited(ModelUnavailable):
    """HTTP 429 on every attempt."""


class QuotaExhausted(PersistentModelError):
    """HTTP 429 with the provider's `insufficient_quota`: the account is out of credit, which no
    retry and no lower concurrency restores."""


class ModelUnreachable(ModelUnavailable, ModelConfigurationError):
    """No connection to the model's server on any attempt (a wrong api_base, a server that is down)."""


class BudgetExhausted(PersistentModelError):
    """The call was not sent: the spending budget it runs under has no room left for it."""


class ModelTimeout(ModelError):
    """No answer within the per-call timeout."""


class StructuredOutputError(ModelError):
    """JSON was asked for and the answer holds no JSON object. Calling again usually succeeds.

    `completion` is the answer that could not be parsed: its tokens and cost were spent and
    belong in the caller's totals.
    """

    def __init__(self, message: str, *, completion: Completion) -> None:
        super().__init__(message, model=completion.model, attempts=completion.attempts)
        self.completion = completion
        self.text = completion.text
