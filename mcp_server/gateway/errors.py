"""A refused or failed gateway call, and how each API spells it: OpenAI's
{"error": {"message", "type", "param", "code"}} and Anthropic's {"type": "error", "error": {"type", "message"}}.

Status codes, chosen for what a client's SDK does with them (the OpenAI and Anthropic SDKs both
retry 408, 409, 429 and 5xx by themselves, honouring Retry-After):
- 401 a missing, wrong, revoked or expired key; 403 a route the key may not use; 404 an unknown route.
- 429 over the key's requests or tokens per minute, with Retry-After: waiting helps, so a retry is right.
- 402 over a budget. Not 429: a day's or a month's budget does not come back in seconds, and an
  SDK that retried it would only send the same refused call again; 402 (Anthropic's billing_error)
  is not retried, so the caller sees at once that the key is out of money until the period ends.
- 400 (code guardrail_blocked) a request or an answer a guardrail blocked, naming the guardrail: the
  same call would be blocked again, so nothing should retry it.
- a provider's own 4xx passes through with its status; a provider 5xx, timeout or connection
  failure that every fallback met too is 502 (504 for a timeout): the gateway is up, the upstream is not.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal[
    "authentication", "permission", "not_found", "invalid_request", "rate_limit", "budget", "too_large",
    "timeout", "upstream", "unavailable", "guardrail",
]

_OPENAI_TYPES: dict[str, tuple[str, str | None]] = {
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", "model_not_allowed"),
    "not_found": ("invalid_request_error", "model_not_found"),
    "invalid_request": ("invalid_request_error", None),
    "rate_limit": ("rate_limit_exceeded", "rate_limit_exceeded"),
    "budget": ("insufficient_quota", "budget_exceeded"),
    "too_large": ("invalid_request_error", "request_too_large"),
    "timeout": ("timeout", "upstream_timeout"),
    "upstream": ("api_error", "upstream_error"),
    "unavailable": ("api_error", "service_unavailable"),
    "guardrail": ("invalid_request_error", "guardrail_blocked"),
}
_ANTHROPIC_TYPES: dict[str, str] = {
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "invalid_request": "invalid_request_error",
    "rate_limit": "rate_limit_error",
    "budget": "billing_error",
    "too_large": "request_too_large",
    "timeout": "timeout_error",
    "upstream": "api_error",
    "unavailable": "overloaded_error",
    "guardrail": "invalid_request_error",
}


class GatewayError(Exception):
    """A call the gateway answers with an error; `status` is the HTTP status."""

    def __init__(self, status: int, kind: Kind, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)} if self.retry_after_s is not None else {}

    def openai_body(self) -> dict[str, Any]:
        type_, code = _OPENAI_TYPES[self.kind]
        return {"error": {"message": self.message, "type": type_, "param": None, "code": code}}

    def anthropic_body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": _ANTHROPIC_TYPES[self.kind], "message": self.message}}
