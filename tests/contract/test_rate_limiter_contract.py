"""The RateLimiter port's guarantees, one suite on every adapter (memory; Redis on a real
redis-server, where two limiters stand for two nodes sharing buckets), on a clock the
test moves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from hubbub.adapters.memory_limiter import MemoryRateLimiter
from hubbub.adapters.redis_limiter import RedisRateLimiter
from hubbub.core.ratelimit import Rule
from hubbub.ports import RateLimiter
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures

RULE = Rule(burst=4, per_second=1.0, what="things")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def limiters(request: pytest.FixtureRequest) -> Iterator[tuple[RateLimiter, RateLimiter, Clock]]:
    clock = Clock()
    if request.param == "memory":
        one = MemoryRateLimiter(clock)
        yield one, one, clock
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    yield RedisRateLimiter(url, prefix, clock), RedisRateLimiter(url, prefix, clock), clock


def test_a_burst_refusals_and_refill(limiters: tuple[RateLimiter, RateLimiter, Clock]) -> None:
    one, two, clock = limiters

    async def body() -> None:
        taken = [await (one if i % 2 else two).take(RULE, "k") for i in range(4)]
        assert taken == [0.0] * 4  # both nodes spend one bucket
        assert await one.take(RULE, "k") == pytest.approx(1.0)
        assert await two.wait(RULE, "k") == pytest.approx(1.0)
        clock.now += 0.5
        assert await two.take(RULE, "k") == pytest.approx(0.5)  # refused: took nothing
        clock.now += 0.5
        assert await two.take(RULE, "k") == 0.0
        assert await one.wait(RULE, "fresh") == 0.0  # an unseen key is full
        clock.now += 100
        assert [await one.take(RULE, "k", cost=4), await one.take(RULE, "k")] == [0.0, 1.0]

    asyncio.run(body())


def test_concurrent_takes_never_overspend(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    one, two, _ = limiters

    async def body() -> None:
        waits = await asyncio.gather(
            *((one if i % 2 else two).take(RULE, "hot") for i in range(40))
        )
        assert sum(1 for w in waits if w == 0.0) == RULE.burst

    asyncio.run(body())
