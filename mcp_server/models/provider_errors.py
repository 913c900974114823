"""litellm's exceptions translated into ours, with the decision whether another attempt can help.

Retried: 429 (unless the quota is exhausted), 5xx, connection failures. Not retried: every other
4xx (the context-length error among them), authentication, and timeouts (the timeout is the
caller's budget for one call; a slow model stays slow). An exhausted quota (QuotaExhausted) and a
404 for the model (ModelNotFound) are persistent: every later call would meet them, so a run stops
at the first instead of recording them on every pair.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_server.models.errors import (
    ContextLengthExceeded,
    InvalidModelName,
    ModelAuthError,
    ModelError,
    ModelNotFound,
    ModelRateLimited,
    ModelRequestRejected,
    ModelTimeout,
    ModelUnavailable,
    ModelUnreachable,
    QuotaExhausted,
)
from mcp_server.models.keys import key_variables
from mcp_server.models.litellm_import import load_litellm
from mcp_server.models.names import JUDGE_API_BASE_ENV, ModelName

QUOTA_CODE = "insufficient_quota"
"""OpenAI's error code and type for an account out of credit (others, e.g. Azure's, only say it)."""
_QUOTA_MARKERS = (QUOTA_CODE, "exceeded your current quota")
# A missing key is detected on our side of the wire, and litellm reports it as anything from 401
# to 500 depending on the provider; only the wording is reliable.
_MISSING_KEY = re.compile(
    r"missing (credentials|[\w ]*api[ _-]?key)|api_key client option must be set|no api[ _-]?key",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Failure:
    """One failed attempt: the error to raise if it is the last, and whether to try again."""

    error: ModelError
    retryable: bool
    retry_after_s: float | None = None


def provider_message(exc: BaseException) -> str:
    """The provider's own words, without litellm's chain of class-name prefixes."""
    text = str(getattr(exc, "message", None) or exc).strip()
    marker = text.find("Exception - ")
    if marker != -1:
        text = text[marker + len("Exception - "):]
    return text.strip() or type(exc).__name__


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or an
    HTTP date). None when absent or unreadable."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - (time.time() if now is None else now))


def classify(exc: BaseException, *, name: ModelName, timeout_s: float) -> Failure | None:
    """Our error for a litellm/openai exception; None for anything else (a bug: let it raise)."""
    import openai  # a litellm dependency, loaded with it

    litellm = load_litellm()
    model = name.litellm_name
    said = provider_message(exc)
    # TimeoutError: our backstop deadline around the whole attempt (anyio.fail_after).
    if isinstance(exc, litellm.Timeout | openai.APITimeoutError | TimeoutError):
        return Failure(ModelTimeout(
            f"model {model!r} gave no answer within {timeout_s:g} s; raise the timeout "
            f"(timeout_s, or TRACEJUDGE_JUDGE_TIMEOUT_S) or use a faster model.", model=model,
        ), retryable=False)
    if isinstance(exc, litellm.ContextWindowExceededError):
        return Failure(ContextLengthExceeded(
            f"the prompt is longer than the context window of model {model!r} ({said}); send "
            f"less (a smaller max_content_length, fewer spans) or use a model with a larger "
            f"context window.", model=model,
        ), retryable=False)
    if isinstance(exc, openai.RateLimitError):
        if QUOTA_CODE in _error_codes(exc) or any(m in said.lower() for m in _QUOTA_MARKERS):
            return Failure(QuotaExhausted(
                f"model {model!r}: the provider account is out of quota ({said}); add credit to the "
                f"account, or use another key or model; retrying will not help.", model=model,
            ), retryable=False)
        return Failure(ModelRateLimited(
            f"model {model!r} kept answering 429 (rate limited: {said}); lower the concurrency, "
            f"wait, or raise the provider's rate limit.", model=model,
        ), retryable=True, retry_after_s=retry_after_seconds(_headers(exc)))
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError) or (
        isinstance(exc, openai.APIError) and _MISSING_KEY.search(said)
    ):
        variables = " or ".join(key_variables(name.provider))
        return Failure(ModelAuthError(
            f"model {model!r} could not authenticate ({said}); set {variables} in the "
            f"server's environment, or pass api_key (TRACEJUDGE_JUDGE_API_KEY for the default "
            f"judge model).", model=model,
        ), retryable=False)
    if isinstance(exc, litellm.BadRequestError) and "LLM Provider NOT provided" in said:
        return Failure(InvalidModelName(
            f"litellm cannot tell which provider serves {model!r}; name it as 'provider:/model' "
            f"or 'provider/model', e.g. 'openai:/gpt-4o-mini' or 'ollama/llama3'.", model=model,
        ), retryable=False)
    if _no_connection(exc, openai):
        return Failure(ModelUnreachable(
            f"model {model!r} cannot be reached ({said}); check that its server is up and that the "
            f"address it is called at (api_base; {JUDGE_API_BASE_ENV} for the default judge model) is "
            f"right, then run again.", model=model,
        ), retryable=True)
    status = getattr(exc, "status_code", None)
    if (isinstance(status, int) and status >= 500) or isinstance(
        exc, litellm.ServiceUnavailableError | litellm.InternalServerError
    ):
        return Failure(ModelUnavailable(
            f"model {model!r} is unavailable ({said}); check that the provider (or api_base) "
            f"is up, then run again.", model=model,
        ), retryable=True, retry_after_s=retry_after_seconds(_headers(exc)))
    if isinstance(exc, openai.NotFoundError):
        return Failure(ModelNotFound(
            f"model {model!r} was not found by its provider ({said}); check the model name "
            f"(and api_base; {JUDGE_API_BASE_ENV} for the default judge model), then run again.", model=model,
        ), retryable=False)
    if isinstance(exc, openai.APIError):
        return Failure(ModelRequestRejected(
            f"model {model!r} rejected the request ({said}); sending it again will not help: "
            f"change the request or the model.", model=model,
        ), retryable=False)
    return None


def _error_codes(exc: BaseException) -> set[str]:
    """The `code` and `type` of the provider's error body. litellm overwrites the exception's own
    `code` and `type` (a 429 becomes 'throttling_error') but keeps the body it was given."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    if not isinstance(body, Mapping):
        return set()
    return {str(body[key]) for key in ("code", "type") if body.get(key) is not None}


def _no_connection(exc: BaseException, openai: Any) -> bool:
    """Whether no connection to the server was made: litellm reports that as a 500
    InternalServerError ("Connection error."), with the SDK's APIConnectionError among its causes."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, openai.APIConnectionError) and not isinstance(cause, openai.APITimeoutError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _headers(exc: BaseException) -> Mapping[str, str] | None:
    # litellm rebuilds the exception's response without the provider's headers and keeps them
    # in `litellm_response_headers`; the plain `response.headers` is the fallback.
    headers = getattr(exc, "litellm_response_headers", None)
    if not headers:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    return headers or None
