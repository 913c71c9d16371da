"""The RateLimiter port in memory: this node's own buckets (core.ratelimit.TokenBuckets),
on a monotonic clock that tests may replace."""

from __future__ import annotations

import time
from collections.abc import Callable

from hubbub.core.ratelimit import Rule, TokenBuckets

PRUNE_EVERY_S = 30.0


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets = TokenBuckets()
        self._pruned_at = clock()

    async def take(self, rule: Rule, key: str, cost: int = 1) -> float:
        now = self.clock()
        if now - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = now
            self.buckets.prune(now)
        return self.buckets.take(key, rule, now, cost)

    async def wait(self, rule: Rule, key: str, cost: int = 1) -> float:
        return self.buckets.wait(key, rule, self.clock(), cost)
