"""Service discovery on a real redis-server (skipped without one, except in CI): two
registered nodes, `best()` picks the least loaded and honours `exclude`; a node that is
stopped leaves at once, and one that stops beating (a crash) disappears within the TTL.
The single-node `LocalDiscovery` always answers itself."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from hubbub.adapters.local_discovery import LocalDiscovery
from hubbub.adapters.redis_discovery import RedisDiscovery
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401


def _own_db(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/9"  # away from the nodes other tests run on db 0


async def _flush(url: str) -> None:
    r = aioredis.from_url(url)
    try:
        await r.flushdb()
    finally:
        await r.aclose()


async def _until_gone(d: RedisDiscovery, node_id: int, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if node_id not in {n["node_id"] for n in await d.nodes()}:
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"node {node_id} still registered after {within} s")


def test_best_is_the_least_loaded_and_a_stopped_node_disappears(redis_url: str) -> None:  # noqa: F811
    url = _own_db(redis_url)
    loads = {1: 5, 2: 3}

    async def body() -> None:
        await _flush(url)
        one = RedisDiscovery(url, 1, "http://one.example:8080", lambda: loads[1], interval=0.2)
        two = RedisDiscovery(url, 2, "https://two.example", lambda: loads[2], interval=0.2)
        await one.start()
        await two.start()
        try:
            best = await one.best()
            assert best is not None
            assert best["node_id"] == 2 and best["connections"] == 3
            assert best["ws_url"] == "wss://two.example/v1/ws"
            assert best["http_url"] == "https://two.example"
            assert {n["node_id"] for n in await two.nodes()} == {1, 2}
            other = await two.best(exclude={2})
            assert other is not None and other["node_id"] == 1
            assert other["ws_url"] == "ws://one.example:8080/v1/ws"
            assert await one.best(exclude={1, 2}) is None
            # the load changes: after the next beats the answer follows it
            loads[1] = 0
            deadline = time.monotonic() + 3.0
            while (b := await two.best()) is not None and b["node_id"] != 1:
                assert time.monotonic() < deadline, "the new load was never published"
                await asyncio.sleep(0.05)
            # a clean stop deregisters at once
            await two.stop()
            assert [n["node_id"] for n in await one.nodes()] == [1]
            best = await one.best()
            assert best is not None and best["node_id"] == 1
        finally:
            await one.stop()
            await two.stop()
        probe = RedisDiscovery(url, 99, None, lambda: 0)
        await probe.start()
        try:
            assert await probe.best(exclude={99}) is None  # nobody else is left
        finally:
            await probe.stop()

    asyncio.run(body())


def test_a_node_that_stops_beating_disappears_within_the_ttl(redis_url: str) -> None:  # noqa: F811
    url = _own_db(redis_url)

    async def body() -> None:
        await _flush(url)
        watcher = RedisDiscovery(url, 10, "http://w:1", lambda: 100)
        crashed = RedisDiscovery(url, 11, "http://c:1", lambda: 0)
        await watcher.start()
        await crashed.start()
        try:
            best = await watcher.best()
            assert best is not None and best["node_id"] == 11
            # a crash: the beating task dies and nothing deregisters the node
            assert crashed._task is not None
            crashed._task.cancel()
            took = await _until_gone(watcher, 11, within=4.0)
            assert took > 1.0  # it was the TTL, not a deregistration
            best = await watcher.best()
            assert best is not None and best["node_id"] == 10
        finally:
            await crashed.stop()
            await watcher.stop()

    asyncio.run(body())


def test_local_discovery_answers_this_node() -> None:
    async def body() -> None:
        alone = LocalDiscovery(3, None, lambda: 7)
        await alone.start()
        best = await alone.best()
        assert best is not None
        assert (best["node_id"], best["connections"], best["ws_url"]) == (3, 7, None)
        assert await alone.best(exclude={3}) is None
        public = await LocalDiscovery(4, "https://chat.example/", lambda: 0).best()
        assert public is not None
        assert public["http_url"] == "https://chat.example"
        assert public["ws_url"] == "wss://chat.example/v1/ws"
        await alone.stop()

    asyncio.run(body())
