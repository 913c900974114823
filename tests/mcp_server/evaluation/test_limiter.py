"""AdaptiveLimiter: halves on rate limiting once per burst, grows back one per round of clean
answers, never below 1 or above its maximum, and holds new judgments while over the limit."""

from __future__ import annotations

import anyio
import pytest

from mcp_server.evaluation.limiter import AdaptiveLimiter
from mcp_server.models.errors import ModelRateLimited, ModelUnavailable
from mcp_server.models.retry import RetryNotice


async def test_rate_limiting_in_a_burst_halves_the_limit_once() -> None:
    limiter = AdaptiveLimiter(8)
    slots = [await limiter.acquire() for _ in range(8)]
    with anyio.move_on_after(0.05) as waited:  # all 8 held: a ninth is not admitted
        await limiter.acquire()
    assert waited.cancelled_caught
    for slot in slots[:4]:
        limiter.release(slot, rate_limited=True)
    assert (limiter.limit, limiter.cuts, limiter.rate_limit_signals) == (4, 1, 4)
    limiter.release(slots[4])  # 3 in flight of 4: room for a judgment started after the cut
    later = await limiter.acquire()
    for slot in slots[5:]:
        limiter.release(slot, rate_limited=True)  # the same burst: no second cut
    assert limiter.limit == 4
    limiter.release(later, rate_limited=True)
    assert (limiter.limit, limiter.lowest) == (2, 2)


async def test_the_limit_never_falls_below_one_and_grows_back_to_the_maximum() -> None:
    limiter = AdaptiveLimiter(4)
    for _ in range(5):
        limiter.release(await limiter.acquire(), rate_limited=True)
    assert (limiter.limit, limiter.lowest) == (1, 1)
    grown = []
    for _ in range(20):
        limiter.release(await limiter.acquire())
        grown.append(limiter.limit)
    # One clean answer at 1 gives 2, two at 2 give 3, three at 3 give 4, then it stays.
    assert grown[:6] == [2, 2, 3, 3, 3, 4] and grown[-1] == 4


async def test_a_judgment_waits_while_the_limit_is_lowered_below_those_in_flight() -> None:
    limiter = AdaptiveLimiter(2)
    a, b = await limiter.acquire(), await limiter.acquire()
    limiter.signal(a)  # limit 1 with 2 in flight
    limiter.release(a)
    with anyio.move_on_after(0.05) as waited:
        await limiter.acquire()
    assert waited.cancelled_caught
    limiter.release(b)
    with anyio.fail_after(1):
        await limiter.acquire()


async def test_the_model_layers_retry_notices_signal_only_for_429s() -> None:
    limiter = AdaptiveLimiter(8)
    slot = await limiter.acquire()
    limiter.on_retry(slot, RetryNotice(1, 0.1, ModelUnavailable("503"), None))
    assert limiter.limit == 8
    limiter.on_retry(slot, RetryNotice(1, 0.1, ModelRateLimited("429"), 1.0))
    limiter.on_retry(slot, RetryNotice(2, 0.2, ModelRateLimited("429"), 1.0))
    assert (limiter.limit, limiter.rate_limit_signals) == (4, 2)


def test_a_maximum_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveLimiter(0)
