"""The RateLimiter port on Redis: buckets every node of a cluster shares. Each bucket is a
hash {tokens, at} under `{prefix}:rl:{key}`, updated by one Lua script (so concurrent
nodes never both spend the last token), and set to expire once it would be full again.
Times come from the node's wall clock (nodes keep it synchronised; a skew of a second
moves a limit by a second), or from a clock the tests pass in."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as redis

from hubbub.core.ratelimit import Rule

_TAKE = """
local burst, rate, now, cost, take = tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate)
local wait = 0
if tokens >= cost then
  if take then tokens = tokens - cost end
else
  wait = (cost - tokens) / rate
end
if take or state[1] then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
end
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(
        self, url: str, prefix: str = "hubbub", clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        self._script = self._redis.register_script(_TAKE)

    async def take(self, rule: Rule, key: str, cost: int = 1) -> float:
        return await self._run(rule, key, cost, take=True)

    async def wait(self, rule: Rule, key: str, cost: int = 1) -> float:
        return await self._run(rule, key, cost, take=False)

    async def _run(self, rule: Rule, key: str, cost: int, *, take: bool) -> float:
        args = [rule.burst, rule.per_second, self.clock(), cost, "1" if take else "0"]
        return float(await self._script([f"{self.prefix}:rl:{key}"], args))

    async def close(self) -> None:
        await self._redis.aclose()
