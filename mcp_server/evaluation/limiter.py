"""AdaptiveLimiter: how many judgments may be in flight, halved when the provider rate-limits
and grown back one at a time while answers come back clean (additive increase, multiplicative
decrease, as TCP does for the same reason: many senders sharing one limit they cannot see).

One burst of 429s is one signal: every judgment in flight when the limit was halved saw the same
overload, so their rate-limit signals do not halve it again; only judgments started after the
last cut can cut again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from mcp_server.models.errors import ModelRateLimited
from mcp_server.models.retry import RetryNotice


@dataclass(eq=False)  # hashed by identity: the capacity limiter keys its borrowers by them
class Slot:
    """One judgment's hold on the limiter; `generation` is the cut count when it started."""

    generation: int
    limited: bool = False  # met rate limiting: its end is not a clean answer


@dataclass
class AdaptiveLimiter:
    """A capacity limiter whose size moves between 1 and `maximum`."""

    maximum: int
    limit: int = field(init=False)
    cuts: int = field(default=0, init=False)
    lowest: int = field(init=False)
    rate_limit_signals: int = field(default=0, init=False)
    _clean: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.limit = self.lowest = self.maximum
        self._capacity = anyio.CapacityLimiter(self.maximum)

    async def acquire(self) -> Slot:
        """Wait for room under the current limit."""
        slot = Slot(self.cuts)
        await self._capacity.acquire_on_behalf_of(slot)
        return slot

    def release(self, slot: Slot, *, rate_limited: bool = False) -> None:
        """Give the slot back, saying whether its judgment met rate limiting."""
        self._capacity.release_on_behalf_of(slot)
        if rate_limited and not slot.limited:
            self.signal(slot)
        elif not slot.limited:
            self._clean += 1
            if self.limit < self.maximum and self._clean >= self.limit:  # one round of clean answers per +1
                self._clean = 0
                self._set(self.limit + 1)

    def signal(self, slot: Slot) -> None:
        """Rate limiting seen by the judgment holding `slot`: halve the limit, once per burst."""
        self.rate_limit_signals += 1
        slot.limited = True
        if slot.generation < self.cuts:
            return
        self.cuts += 1
        self._clean = 0
        self._set(max(1, self.limit // 2))

    def on_retry(self, slot: Slot, notice: RetryNotice) -> None:
        """The model layer's on_retry callback for the judgment holding `slot`: a 429 being retried."""
        if isinstance(notice.error, ModelRateLimited):
            self.signal(slot)

    def _set(self, limit: int) -> None:
        # Lowering total_tokens never interrupts holders: new judgments wait until enough finish.
        self.limit = limit
        self.lowest = min(self.lowest, limit)
        self._capacity.total_tokens = limit
