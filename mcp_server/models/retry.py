"""Attempts with exponential backoff and jitter, honouring Retry-After up to a cap."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import anyio

from mcp_server.models.errors import ModelError
from mcp_server.models.provider_errors import Failure
from mcp_server.models.settings import ModelSettings

T = TypeVar("T")


@dataclass(frozen=True)
class RetryNotice:
    """Told to `on_retry` before each wait: an adaptive rate limiter can slow down on 429s."""

    attempt: int  # the attempt that failed, from 1
    delay_s: float  # the wait before the next attempt
    error: ModelError  # what that attempt got
    retry_after_s: float | None  # what the server asked for, before the cap


def backoff_delay(
    attempt: int, settings: ModelSettings, retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (from 1).

    With Retry-After: that, plus up to 10% jitter so many judges told the same do not return
    together. Without: initial_backoff_s doubled per attempt, with equal jitter (half fixed,
    half random). Both capped at max_backoff_s.
    """
    rand = (rng or random).random()
    if retry_after_s is not None:
        return min(settings.max_backoff_s, retry_after_s * (1 + 0.1 * rand))
    exponential = settings.initial_backoff_s * 2 ** (attempt - 1)
    return min(settings.max_backoff_s, exponential) * (0.5 + 0.5 * rand)


RETRY_OBSERVER: ContextVar[Callable[[RetryNotice], None] | None] = ContextVar(
    "tracejudge_retry_observer", default=None
)
"""Who else hears of every retry made in this task, e.g. Evaluate's adaptive limiter around one
judgment: judges call the model several layers down, and the notice reaches it without every
judge passing a callback along."""


@contextmanager
def observe_retries(observer: Callable[[RetryNotice], None]) -> Iterator[None]:
    """Tell `observer` of each retry the model calls made in this block (in this task) make."""
    token = RETRY_OBSERVER.set(observer)
    try:
        yield
    finally:
        RETRY_OBSERVER.reset(token)


async def call_with_retries(
    attempt_once: Callable[[], Awaitable[T]],
    *,
    classify: Callable[[BaseException], Failure | None],
    settings: ModelSettings,
    on_retry: Callable[[RetryNotice], None] | None = None,
) -> tuple[T, int]:
    """Run `attempt_once` until it succeeds, fails for good, or max_attempts is spent.

    Returns the result and the number of attempts. Raises the ModelError of the last failure,
    with `attempts` set and the count in its message when more than one was made. Exceptions
    `classify` does not recognise propagate untouched.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await attempt_once(), attempt
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if not failure.retryable or attempt >= settings.max_attempts:
                error = failure.error
                error.attempts = attempt
                if failure.retryable and attempt > 1:
                    error.args = (f"{error.args[0]} (gave up after {attempt} attempts)",)
                raise error from exc
            delay = backoff_delay(attempt, settings, failure.retry_after_s)
            notice = RetryNotice(attempt, delay, failure.error, failure.retry_after_s)
            for listener in (on_retry, RETRY_OBSERVER.get()):
                if listener is not None:
                    listener(notice)
            await anyio.sleep(delay)
