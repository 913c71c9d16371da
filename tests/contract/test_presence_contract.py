"""The PresenceDirectory port's guarantees, run unchanged on every adapter: this node
alone (the embedded default) and Redis (many nodes, on a real redis-server).

For the local directory every node-local transition is a transition of the user; for
Redis, two directories stand for two nodes sharing one view."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

from hubbub.adapters.local_presence import LocalPresenceDirectory
from hubbub.adapters.redis_presence import RedisPresenceDirectory
from hubbub.ports import PresenceDirectory
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures

TIMEOUT_MS = 400


def _now() -> int:
    return int(time.time() * 1000)


@pytest.fixture(params=["local", "redis"])
def nodes(request: pytest.FixtureRequest) -> Iterator[tuple[PresenceDirectory, ...]]:
    """Two directories that share one view (two nodes); for local, one directory twice."""
    if request.param == "local":
        local = LocalPresenceDirectory()
        yield local, local
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"t{uuid.uuid4().hex[:8]}"  # tests never see each other's keys
    yield (
        RedisPresenceDirectory(url, 1, TIMEOUT_MS, prefix),
        RedisPresenceDirectory(url, 2, TIMEOUT_MS, prefix),
    )


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_a_user_coming_online_is_news_and_going_offline_is_news(
    nodes: tuple[PresenceDirectory, ...],
) -> None:
    one, _ = nodes

    async def body() -> None:
        await one.start()
        assert await one.online(7, _now()) is True
        last = _now()
        await one.refresh(7, last)
        assert await one.offline(7, last) is True
        status = await one.status(7)
        if status is not None:  # the local directory leaves status to the node's tracker
            assert status == (False, last)
        await one.stop()

    run(body())


def test_two_nodes_announce_each_change_once(nodes: tuple[PresenceDirectory, ...]) -> None:
    one, two = nodes
    if one is two:
        pytest.skip("one node: every local change is the user's change")

    async def body() -> None:
        await one.start()
        await two.start()
        assert await one.online(8, _now()) is True  # first device anywhere: news
        assert await two.online(8, _now()) is False  # already online via node one
        assert (await two.status(8) or (False, 0))[0] is True
        assert await one.offline(8, _now()) is False  # still online on node two
        assert await two.offline(8, _now()) is True  # now nowhere: news, once
        assert (await one.status(8) or (True, 0))[0] is False
        assert await one.expired(_now() + 10 * TIMEOUT_MS) == []  # already announced
        await one.stop()
        await two.stop()

    run(body())


def test_a_silent_node_users_are_handed_to_exactly_one_live_node(
    nodes: tuple[PresenceDirectory, ...],
) -> None:
    one, two = nodes
    if one is two:
        pytest.skip("one node: its own tracker expires its users")

    async def body() -> None:
        await one.start()
        await two.start()
        seen = _now()
        assert await two.online(9, seen) is True  # node two then dies: no offline call
        assert await one.expired(seen + TIMEOUT_MS // 2) == []  # not yet
        later = seen + TIMEOUT_MS + 1
        claims = await asyncio.gather(one.expired(later), two.expired(later))
        assert sorted(claims, key=len) == [[], [(9, seen)]]  # exactly one node claims
        status = await one.status(9)
        for _ in range(40):  # status reads the real clock: wait out the real timeout
            if status is not None and status[0] is False:
                break
            await asyncio.sleep(0.05)
            status = await one.status(9)
        assert status == (False, seen)
        await one.stop()
        await two.stop()

    run(body())


def test_statuses_answers_many_users_at_once_as_status_does(
    nodes: tuple[PresenceDirectory, ...],
) -> None:
    one, two = nodes

    async def body() -> None:
        await one.start()
        await two.start()
        now = _now()
        await one.online(21, now)
        await two.online(22, now)
        await two.offline(22, now)
        many = await two.statuses([21, 22, 23])
        for user_id in (21, 22, 23):
            single = await one.status(user_id)
            assert many.get(user_id) == single, user_id  # the same view, one round trip
        assert 23 not in many  # never seen
        assert await one.statuses([]) == {}
        await one.offline(21, now)
        await one.stop()
        await two.stop()

    run(body())


def test_another_nodes_live_devices_are_known_until_it_goes_silent(
    nodes: tuple[PresenceDirectory, ...],
) -> None:
    one, two = nodes

    async def body() -> None:
        await one.start()
        await two.start()
        if one is two:  # a single node's own sockets are the truth: it never asks
            await one.online(5, _now())
            await one.devices(5, [50])
            assert await one.device_live(5, 50) is False
            await one.stop()
            return
        await two.online(5, _now())
        await two.devices(5, [50, 51])
        assert [await one.device_live(5, d) for d in (50, 51, 52)] == [True, True, False]
        await one.online(5, _now())  # the same user on node one, with no device listed
        await two.devices(5, [51])  # device 50's socket on node two closed
        assert [await one.device_live(5, d) for d in (50, 51)] == [False, True]
        await two.devices(5, [])
        assert await one.device_live(5, 51) is False
        await two.devices(5, [51])
        last = _now()
        await two.offline(5, last)  # offline on node two: its list no longer counts
        assert await one.device_live(5, 51) is False
        await two.online(6, _now())
        await two.devices(6, [60])  # node two then dies: no offline, no change
        assert await one.device_live(6, 60) is True
        for _ in range(40):  # the real clock: wait out the real timeout
            if not await one.device_live(6, 60):
                break
            await asyncio.sleep(0.05)
        assert await one.device_live(6, 60) is False
        await one.stop()
        await two.stop()

    run(body())
