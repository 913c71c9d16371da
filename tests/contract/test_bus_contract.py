"""The Bus port's guarantees, one suite for every adapter: the in-process bus and the
Redis bus on a real redis-server (skipped without one, except in CI).

Both: a publish reaches a watching receiver, per-user order over 1000 frames, close
requests reach the device's node, unwatch stops delivery (Redis) or is harmless (memory).
Redis only (cross-node, so meaningless for the one-process bus): node A's frames reach
node B that watches the user and not node C that does not; 2 publishing nodes x 1000
frames over 50 users keep per-user order; after redis-server is killed and started again
the bus reconnects, re-subscribes and delivers later frames."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hubbub.adapters.memory_bus import InProcessBus
from hubbub.adapters.redis_bus import RedisBus
from hubbub.adapters.sqlite import SqliteStore
from hubbub.core.ids import IdGenerator
from hubbub.core.model import Device
from hubbub.ports import Bus
from hubbub.services import sync as sync_service
from hubbub.services.sync import Sync
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401
from tests.redis_relay import SubscribeHold
from tests.redis_server import RedisServer


class Recorder:
    """A Receiver that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.frames: dict[int, list[tuple[bytes, int]]] = defaultdict(list)
        self.closes: list[tuple[int, int, str]] = []

    def deliver(self, user_id: int, frame: bytes, seq: int) -> None:
        self.frames[user_id].append((frame, seq))

    def close_device(self, device_id: int, code: int, reason: str) -> None:
        self.closes.append((device_id, code, reason))

    def count(self) -> int:
        return sum(len(f) for f in self.frames.values())


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Adapter:
    kind: str
    make: Callable[[int], Bus]  # node id -> a new, unstarted bus


@pytest.fixture(params=["memory", "redis"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    if request.param == "memory":
        return Adapter("memory", lambda node_id: InProcessBus())
    url: str = request.getfixturevalue("redis_url")
    return Adapter("redis", lambda node_id: RedisBus(url, node_id, backoff_max=0.2))


@pytest.fixture
def redis_nodes(redis_url: str) -> Callable[[int], RedisBus]:  # noqa: F811
    return lambda node_id: RedisBus(redis_url, node_id, backoff_max=0.2)


@contextlib.asynccontextmanager
async def running(bus: Bus) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    await bus.start(recorder)
    try:
        yield recorder
    finally:
        await bus.stop()


# -- every adapter -----------------------------------------------------------------------


def test_publish_reaches_a_watching_receiver(adapter: Adapter) -> None:
    async def body() -> None:
        bus = adapter.make(1)
        async with running(bus) as rec:
            await bus.watch_user(7)
            binary = bytes(range(256)) * 3
            bus.publish(7, b'{"type":"message"}', 41)
            bus.publish(7, b'{"type":"typing"}')
            bus.publish(7, binary, 2**40)
            bus.publish(7, b"", 0)
            want = [(b'{"type":"message"}', 41), (b'{"type":"typing"}', 0), (binary, 2**40)]
            want.append((b"", 0))
            await wait_until(lambda: len(rec.frames[7]) >= 4, "4 frames for user 7")
            assert rec.frames[7] == want
            assert rec.closes == []

    asyncio.run(body())


def test_frames_for_one_user_keep_publish_order(adapter: Adapter) -> None:
    async def body() -> None:
        bus = adapter.make(1)
        async with running(bus) as rec:
            await asyncio.gather(bus.watch_user(1), bus.watch_user(2))
            for i in range(1, 1001):
                bus.publish(1, b"a%d" % i, i)
                if i % 3 == 0:
                    bus.publish(2, b"b%d" % i, 0)
                if i % 100 == 0:
                    await asyncio.sleep(0)  # let a networked writer send batches meanwhile
            await wait_until(lambda: len(rec.frames[1]) >= 1000, "1000 frames for user 1")
            await wait_until(lambda: len(rec.frames[2]) >= 333, "333 frames for user 2")
            assert rec.frames[1] == [(b"a%d" % i, i) for i in range(1, 1001)]
            assert rec.frames[2] == [(b"b%d" % i, 0) for i in range(3, 1001, 3)]

    asyncio.run(body())


def test_close_requests_reach_the_device(adapter: Adapter) -> None:
    async def body() -> None:
        bus = adapter.make(1)
        async with running(bus) as rec:
            await bus.watch_device(42)
            bus.publish_close(42, 4001, "logged out: élan ✓")
            bus.publish_close(42, 4008, "")
            await wait_until(lambda: len(rec.closes) >= 2, "2 close requests")
            assert rec.closes == [(42, 4001, "logged out: élan ✓"), (42, 4008, "")]
            assert rec.count() == 0

    asyncio.run(body())


def test_unwatch_stops_delivery_once_every_watcher_has_gone(adapter: Adapter) -> None:
    async def body() -> None:
        bus = adapter.make(1)
        async with running(bus) as rec:
            await bus.watch_user(5)
            await bus.watch_user(5)  # two devices of user 5
            await bus.watch_device(50)
            bus.unwatch_user(5)  # one of them leaves: still watched
            await bus.watch_user(6)  # every earlier unwatch is in effect after this
            bus.publish(5, b"one", 1)
            bus.publish(6, b"marker", 0)
            await wait_until(lambda: len(rec.frames[6]) >= 1, "the first marker")
            assert rec.frames[5] == [(b"one", 1)]

            bus.unwatch_user(5)  # the last device of user 5 leaves
            bus.unwatch_device(50)
            await bus.watch_user(8)
            bus.publish(5, b"two", 2)
            bus.publish_close(50, 4001, "bye")
            bus.publish(6, b"marker", 0)  # the same path, after them: they were handled
            await wait_until(lambda: len(rec.frames[6]) >= 2, "the second marker")
            if adapter.kind == "memory":  # delivers everything; the hub keeps what it can
                assert rec.frames[5] == [(b"one", 1), (b"two", 2)]
                assert rec.closes == [(50, 4001, "bye")]
            else:
                assert rec.frames[5] == [(b"one", 1)]
                assert rec.closes == []
            bus.unwatch_user(1234)  # never watched: harmless
            bus.unwatch_device(1234)

    asyncio.run(body())


# -- Redis only: several nodes -------------------------------------------------------------


def test_a_frame_reaches_the_node_that_watches_the_user_and_no_other(
    redis_nodes: Callable[[int], RedisBus],
) -> None:
    async def body() -> None:
        a, b, c = redis_nodes(1), redis_nodes(2), redis_nodes(3)
        async with running(a) as rec_a, running(b) as rec_b, running(c) as rec_c:
            await b.watch_user(10)
            await b.watch_device(100)
            await c.watch_user(11)
            await a.watch_user(12)
            a.publish(10, b"for 10", 1)
            a.publish_close(100, 4001, "logged out elsewhere")
            a.publish(12, b"for 12, local via redis", 1)
            await wait_until(lambda: rec_b.frames[10] == [(b"for 10", 1)], "B gets user 10")
            await wait_until(lambda: len(rec_b.closes) == 1, "B gets the close")
            assert rec_b.closes == [(100, 4001, "logged out elsewhere")]
            await wait_until(lambda: len(rec_a.frames[12]) == 1, "A gets its own user 12")
            a.publish(11, b"marker", 0)  # after the others on A's connection
            await wait_until(lambda: len(rec_c.frames[11]) == 1, "C gets user 11")
            assert set(rec_c.frames) == {11} and rec_c.closes == []
            assert set(rec_a.frames) == {12} and rec_a.closes == []
            assert set(rec_b.frames) == {10}

    asyncio.run(body())


def test_two_nodes_publishing_to_fifty_users_keep_per_user_order(
    redis_nodes: Callable[[int], RedisBus],
) -> None:
    users = range(1000, 1050)

    async def body() -> None:
        a, b = redis_nodes(1), redis_nodes(2)
        async with running(a) as rec_a, running(b) as rec_b:
            await asyncio.gather(*(n.watch_user(u) for n in (a, b) for u in users))
            for i in range(1000):
                for node, bus in ((1, a), (2, b)):
                    user = users[(i * 7 + node) % 50]
                    bus.publish(user, b"%d:%d" % (node, i), i + 1)
                if i % 50 == 0:
                    await asyncio.sleep(0)
            for rec in (rec_a, rec_b):
                await wait_until(lambda rec=rec: rec.count() >= 2000, "2000 frames per node")
                assert rec.count() == 2000
                for user in users:
                    for node in (1, 2):
                        mine = [
                            seq
                            for frame, seq in rec.frames[user]
                            if frame.startswith(b"%d:" % node)
                        ]
                        want = [i + 1 for i in range(1000) if users[(i * 7 + node) % 50] == user]
                        assert mine == want, (user, node)
            assert a.dropped == 0 and b.dropped == 0

    asyncio.run(body())


def test_the_bus_reconnects_and_resubscribes_after_redis_restarts(
    redis_server: RedisServer,  # noqa: F811
    redis_nodes: Callable[[int], RedisBus],
) -> None:
    async def body() -> None:
        a, b = redis_nodes(1), redis_nodes(2)
        async with running(a), running(b) as rec_b:
            await b.watch_user(20)
            await b.watch_device(200)
            a.publish(20, b"before", 1)
            await wait_until(lambda: len(rec_b.frames[20]) == 1, "the frame before")

            redis_server.kill()
            a.publish(20, b"while down", 2)  # may be lost (at-most-once)
            late_watch = asyncio.create_task(b.watch_user(21))  # waits for the reconnect
            await asyncio.sleep(0.05)
            assert not late_watch.done()
            await asyncio.to_thread(redis_server.start)

            await asyncio.wait_for(late_watch, 15)

            # probe until the re-subscription is in place (bounded), then check order
            async def probe_until_received() -> None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 15
                while not any(f == b"probe" for f, _ in rec_b.frames[20]):
                    assert loop.time() < deadline, "no frame after the restart"
                    a.publish(20, b"probe", 0)
                    await asyncio.sleep(0.05)

            await probe_until_received()
            start = len(rec_b.frames[20])
            for i in range(100):
                a.publish(20, b"after", 100 + i)
            a.publish(21, b"for the late watch", 1)
            a.publish_close(200, 4001, "after restart")
            await wait_until(lambda: len(rec_b.frames[20]) >= start + 100, "100 later frames")
            later = [seq for f, seq in rec_b.frames[20][start:] if f == b"after"]
            assert later == list(range(100, 200))
            await wait_until(lambda: len(rec_b.frames[21]) == 1, "the late watch's frame")
            await wait_until(lambda: rec_b.closes == [(200, 4001, "after restart")], "close")
            assert a.reconnects >= 1 and b.reconnects >= 1

    asyncio.run(body())


def test_a_subscription_given_up_is_taken_back(
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """services/sync.py's subscribe gives up after its timeout (a Redis that does not
    confirm); the interests it registered are taken back, so the node does not stay
    subscribed to a user and a device it has no connection for. The relay holds the
    SUBSCRIBE until after the timeout."""
    monkeypatch.setattr(sync_service, "SUBSCRIBE_TIMEOUT_S", 0.5)
    parsed = urlsplit(redis_url)
    relay = SubscribeHold((parsed.hostname or "127.0.0.1", parsed.port or 6379))

    async def body() -> None:
        bus = RedisBus(f"redis://127.0.0.1:{relay.port}/0", 1, backoff_max=0.2)
        async with running(bus) as rec:
            sync = Sync(SqliteStore(tmp_path, IdGenerator(1)), bus)  # the store is unused
            relay.holding = True
            with pytest.raises(TimeoutError):
                await sync.subscribe(Device(device_id=70, user_id=7, name="phone"))
            relay.release()
            await bus.watch_user(8)  # every earlier change is in effect after this
            bus.publish(7, b"after giving up", 1)
            bus.publish_close(70, 4001, "bye")
            bus.publish(8, b"marker", 0)  # the same path, after them: they were handled
            await wait_until(lambda: len(rec.frames[8]) >= 1, "the marker")
            assert rec.frames[7] == [] and rec.closes == []

    try:
        asyncio.run(body())
    finally:
        relay.close()
