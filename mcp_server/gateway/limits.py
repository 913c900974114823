"""Requests and tokens per minute per key, counted by the `limits` library (fixed one-minute windows).

Requests are counted as they arrive; a request over the key's rpm is refused with 429 and a
Retry-After of the seconds left in the window. Tokens are checked before the call with an
estimate of what it sends (characters / 4: mcp_server.models.token_estimate) and counted after it
with the usage the provider reported: a fixed window adds the actual count even when it goes past
the limit, so a call that used more than estimated makes the next ones wait, as it should.

The counters live in this process's memory (limits' MemoryStorage): several `tracejudge serve`
processes behind one balancer each count on their own. limits also has Redis and Memcached
storage (`limits.storage.storage_from_string("redis://...")`) for counters shared between
processes; this class takes any limits storage, but the server does not configure one yet.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from mcp_server.gateway.errors import GatewayError
from store.gateway import KeyRecord


class KeyLimits:
    def __init__(self, storage: Storage | None = None) -> None:
        self._limiter = FixedWindowRateLimiter(storage or MemoryStorage())

    def _retry_after(self, item: RateLimitItemPerMinute, *identifiers: str) -> int:
        reset = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def admit(self, key: KeyRecord, estimated_tokens: int) -> None:
        """Count the request; GatewayError 429 with Retry-After when the key is over its rpm, or when
        its tpm has no room for `estimated_tokens`."""
        if key.rpm is not None:
            item = RateLimitItemPerMinute(key.rpm)
            if not self._limiter.hit(item, key.key_id, "requests"):
                wait = self._retry_after(item, key.key_id, "requests")
                raise GatewayError(429, "rate_limit", f"key {key.name!r} is over its limit of {key.rpm:,} requests per "
                                   f"minute; retry in {wait} s (Retry-After), or ask the operator for a higher --rpm.",
                                   retry_after_s=wait)  # fmt: skip
        if key.tpm is not None:
            item = RateLimitItemPerMinute(key.tpm)
            cost = min(max(1, estimated_tokens), key.tpm)  # a call larger than the whole limit waits for an empty window
            if not self._limiter.test(item, key.key_id, "tokens", cost=cost):
                wait = self._retry_after(item, key.key_id, "tokens")
                raise GatewayError(429, "rate_limit", f"key {key.name!r} is over its limit of {key.tpm:,} tokens per "
                                   f"minute (this call is estimated at {estimated_tokens:,}); retry in {wait} s "
                                   "(Retry-After), or ask the operator for a higher --tpm.", retry_after_s=wait)  # fmt: skip

    def count_tokens(self, key: KeyRecord, tokens: int) -> None:
        """Add the tokens a call actually used to the key's window."""
        if key.tpm is not None and tokens > 0:
            self._limiter.hit(RateLimitItemPerMinute(key.tpm), key.key_id, "tokens", cost=tokens)
