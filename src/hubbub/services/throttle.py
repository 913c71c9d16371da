"""The node's rate limits as the services use them: pass, or raise `rate_limited` with
the time to wait. Limits that must hold across the cluster (sign-ups, log-ins, groups,
contacts, subscriptions, uploads) go to the shared limiter (Redis in a cluster); the
per-frame and per-message ones, which run on every frame, use this node's own buckets (a
user connected to two nodes has twice the burst: a bounded slack, and no Redis round trip
per message)."""

from __future__ import annotations

import time
from collections.abc import Callable

from hubbub.core.errors import rate_limited
from hubbub.core.ratelimit import RateRules, Rule, TokenBuckets
from hubbub.ports import RateLimiter

PRUNE_EVERY_S = 30.0


class Throttle:
    def __init__(
        self,
        rules: RateRules,
        shared: RateLimiter,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = rules
        self.shared = shared
        self.enabled = enabled
        self.clock = clock
        self._local = TokenBuckets()
        self._pruned_at = clock()

    def here(self, rule: Rule, key: str) -> None:
        """Take a token from this node's bucket, or refuse (no await: per-frame path)."""
        if not self.enabled:
            return
        now = self.clock()
        if now - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = now
            self._local.prune(now)
        wait = self._local.take(_key(rule, key), rule, now)
        if wait:
            raise rate_limited(_ms(wait), rule.what)

    async def everywhere(self, rule: Rule, key: str) -> None:
        """Take a token from the cluster's bucket, or refuse."""
        if self.enabled:
            wait = await self.shared.take(rule, _key(rule, key))
            if wait:
                raise rate_limited(_ms(wait), rule.what)

    async def count(self, rule: Rule, key: str) -> None:
        """Take a token from the cluster's bucket if one is there (a failure counted
        after the fact: the refusal it earns comes with the next attempt)."""
        if self.enabled:
            await self.shared.take(rule, _key(rule, key))

    async def not_exhausted(self, rule: Rule, key: str) -> None:
        """Refuse if the cluster's bucket is empty (takes nothing: failures are counted
        with `everywhere` once they happen)."""
        if self.enabled:
            wait = await self.shared.wait(rule, _key(rule, key))
            if wait:
                raise rate_limited(_ms(wait), rule.what)


def _key(rule: Rule, key: str) -> str:
    """Each rule has buckets of its own (one address has a sign-up and a log-in bucket)."""
    return f"{rule.what}|{key}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000 + 0.999))
