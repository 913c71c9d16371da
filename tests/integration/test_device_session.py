"""DeviceSession's rules driven without sockets: a recording outlet stands in for the
WebSocket, everything behind the session is real (SQLite store, in-process bus, hub,
presence, services). Hello and its refusals, frames pipelined behind hello, the in-flight
cap that stops reading, and catch-up merged with live traffic without gaps or repeats."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubbub.adapters.local_presence import LocalPresenceDirectory
from hubbub.adapters.memory_bus import InProcessBus
from hubbub.adapters.memory_limiter import MemoryRateLimiter
from hubbub.adapters.passwords import Argon2Hasher
from hubbub.adapters.redis_bus import RedisBus
from hubbub.adapters.sqlite import SqliteStore
from hubbub.core.ids import IdGenerator
from hubbub.core.limits import Limits
from hubbub.core.ratelimit import RateRules
from hubbub.gateway import session as session_module
from hubbub.gateway.hub import Hub
from hubbub.gateway.session import DeviceSession, SessionDeps
from hubbub.ports import Bus
from hubbub.services.accounts import Accounts, token_hash
from hubbub.services.counters import Counters
from hubbub.services.messaging import Messaging
from hubbub.services.presence import Presence
from hubbub.services.sync import Sync
from hubbub.services.throttle import Throttle
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures


@dataclass
class RecordingOutlet:
    frames: list[dict[str, Any]] = field(default_factory=list)
    closes: list[tuple[int, str]] = field(default_factory=list)
    paused: int = 0
    resumed: int = 0
    on_write: Callable[[dict[str, Any]], None] | None = None  # the client reacting

    def write(self, frame: bytes) -> None:
        self.frames.append(json.loads(frame))
        if self.on_write is not None:
            self.on_write(self.frames[-1])

    def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


@dataclass
class World:
    store: SqliteStore
    deps: SessionDeps
    messaging: Messaging

    async def device(self, name: str) -> tuple[int, str]:
        """A user with one device: (user_id, token)."""
        user = await self.store.create_user(name, "unused", name)
        token = secrets.token_urlsafe(16)
        await self.store.create_device(user.user_id, "test", token_hash(token), 10)
        return user.user_id, token

    def open(self, outlet: RecordingOutlet) -> DeviceSession:
        return DeviceSession(outlet, self.deps)


@asynccontextmanager
async def world(
    tmp_path: Path, bus: Bus | None = None, *, rate_limits: bool = True
) -> AsyncIterator[World]:
    store = SqliteStore(tmp_path / "data", IdGenerator(1))
    await store.open()
    bus = bus or InProcessBus()
    counters = Counters()
    hub = Hub(counters)
    await bus.start(hub)
    presence = Presence(store, bus, 30.0, LocalPresenceDirectory())
    await presence.start()
    throttle = Throttle(RateRules(), MemoryRateLimiter(), enabled=rate_limits)
    messaging = Messaging(store, bus, Limits(), counters, throttle)
    deps = SessionDeps(
        accounts=Accounts(store, Argon2Hasher(), bus, throttle),
        sync=Sync(store, bus),
        messaging=messaging,
        presence=presence,
        hub=hub,
        throttle=throttle,
        sessions=set(),
        observe_send=lambda seconds: None,
        count_refusal=lambda code: None,
    )
    try:
        yield World(store, deps, messaging)
    finally:
        await presence.stop()
        await bus.stop()
        await store.close()


def hello(token: str, since: int = 0) -> bytes:
    return json.dumps({"type": "hello", "token": token, "since": since}).encode()


def send(cmid: str, to: int, body: str = "x") -> bytes:
    return json.dumps({"type": "send", "client_msg_id": cmid, "to": str(to), "body": body}).encode()


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 (in-process: nothing to wait on but the loop)
            await asyncio.sleep(0.005)


def test_hello_gets_ready_then_the_inbox_then_live_frames(tmp_path: Path) -> None:
    async def body() -> None:
        async with world(tmp_path) as w:
            alice, _ = await w.device("alice")
            bob, bob_token = await w.device("bob")
            for i in range(3):
                await w.messaging.post(alice, f"early{i}", f"m{i}", to=bob)
            out = RecordingOutlet()
            s = w.open(out)
            s.on_text(hello(bob_token, since=1))
            await until(lambda: len(out.of("message")) == 2)
            ready = out.frames[0]
            assert ready["type"] == "ready" and ready["head"] == 3
            assert ready["user_id"] == str(bob)
            assert [m["seq"] for m in out.of("message")] == [2, 3]
            await w.messaging.post(alice, "live", "now", to=bob)
            await until(lambda: len(out.of("message")) == 3)
            assert out.of("message")[-1]["body"] == "now" and out.of("message")[-1]["seq"] == 4
            s.on_closed()
            assert w.deps.sessions == set()

    asyncio.run(body())


def test_refusals_at_hello(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> None:
        async with world(tmp_path) as w:
            _, token = await w.device("carol")
            cases = {
                hello("not-a-token"): 4001,
                b'{"type":"ping"}': 4000,
                b"not json": 4000,
                hello(token, since=-1): 4000,
            }
            for first, code in cases.items():
                out = RecordingOutlet()
                w.open(out).on_text(first)
                await until(lambda out=out: bool(out.closes))
                assert out.closes[0][0] == code, first
                assert out.frames == [], first  # refused before anything was said
            monkeypatch.setattr(session_module, "HELLO_TIMEOUT_S", 0.05)
            silent = RecordingOutlet()
            w.open(silent)
            await until(lambda: bool(silent.closes))
            assert silent.closes == [(4000, "no hello within 10 s")]

    asyncio.run(body())


def test_frames_pipelined_behind_hello_run_in_order_once_ready(tmp_path: Path) -> None:
    async def body() -> None:
        async with world(tmp_path) as w:
            _alice, token = await w.device("alice")
            bob, _ = await w.device("bob")
            out = RecordingOutlet()
            s = w.open(out)
            s.on_text(hello(token))
            for i in range(20):  # before `ready` has been written
                s.on_text(send(f"c{i}", bob))
            s.on_text(b"garbage")
            await until(
                lambda: len(out.of("sent")) == len(out.of("message")) == 20
                and len(out.of("error")) == 1
            )
            assert out.frames[0]["type"] == "ready"
            assert [f["client_msg_id"] for f in out.of("sent")] == [f"c{i}" for i in range(20)]
            assert [m["seq"] for m in out.of("message")] == list(range(1, 21))  # own copies
            assert out.closes == []

    asyncio.run(body())


def test_a_device_with_too_many_frames_in_flight_is_no_longer_read(tmp_path: Path) -> None:
    async def body() -> None:
        async with world(tmp_path) as w:
            _alice, token = await w.device("alice")
            bob, _ = await w.device("bob")
            out = RecordingOutlet()
            s = w.open(out)
            s.on_text(hello(token))
            await until(lambda: bool(out.frames))
            await until(lambda: s.conn is not None)
            n = session_module.MAX_IN_FLIGHT + 10
            for i in range(n):  # all in one loop turn: none can complete meanwhile
                s.on_text(send(f"k{i}", bob))
            assert out.paused == 1  # reading stopped at the cap, once
            await until(lambda: len(out.of("sent")) == n and out.resumed > 0)
            assert out.resumed == 1  # resumed once the store caught up
            assert [f["client_msg_id"] for f in out.of("sent")] == [f"k{i}" for i in range(n)]

    asyncio.run(body())


def test_catch_up_and_live_traffic_merge_without_gaps_or_repeats(tmp_path: Path) -> None:
    async def body() -> None:
        async with world(tmp_path, rate_limits=False) as w:  # a backlog made at once
            alice, _ = await w.device("alice")
            bob, bob_token = await w.device("bob")
            backlog = session_module.REPLAY_PAGE * 2 + 7  # several replay pages
            await asyncio.gather(
                *(w.messaging.post(alice, f"b{i}", "old", to=bob) for i in range(backlog))
            )
            out = RecordingOutlet()
            w.open(out).on_text(hello(bob_token))
            live = 300  # sent while the replay runs, concurrently
            await asyncio.gather(
                *(w.messaging.post(alice, f"l{i}", "new", to=bob) for i in range(live))
            )
            await until(lambda: len(out.of("message")) >= backlog + live)
            await asyncio.sleep(0.05)  # anything doubled would have arrived by now
            seqs = [m["seq"] for m in out.of("message")]
            assert seqs == list(range(1, backlog + live + 1))

    asyncio.run(body())


def test_a_refused_send_names_its_client_msg_id_and_the_session_lives_on(tmp_path: Path) -> None:
    async def body() -> None:
        async with world(tmp_path) as w:
            _alice, token = await w.device("alice")
            bob, _ = await w.device("bob")
            out = RecordingOutlet()
            s = w.open(out)
            s.on_text(hello(token))
            await until(lambda: s.conn is not None)
            s.on_text(send("empty", bob, body=""))
            s.on_text(send("nobody", 424242))
            s.on_text(b'{"type":"send","client_msg_id":"e1","conversation_id":"","body":"hi"}')
            s.on_text(send("fine", bob))
            await until(lambda: len(out.of("error")) == 3 and len(out.of("sent")) == 1)
            errors = {e["client_msg_id"]: e["code"] for e in out.of("error")}
            assert errors == {"empty": "bad_request", "nobody": "not_found", "e1": "bad_request"}
            assert out.closes == []

    asyncio.run(body())


def test_a_burst_right_after_ready_runs_whole_on_a_networked_bus(
    tmp_path: Path, redis_url: str  # noqa: F811 - the fixture
) -> None:
    """The web client's outbox after a reconnect: `ready` arrives, then hundreds of sends
    at once, while the bus subscription (a Redis round trip) may still be under way."""

    async def body() -> None:
        async with world(tmp_path, RedisBus(redis_url, 1)) as w:
            _, token = await w.device("alice")
            bob, _ = await w.device("bob")
            out = RecordingOutlet()
            s = w.open(out)

            def burst() -> None:  # one write's worth of frames
                for i in range(300):
                    s.on_text(send(f"o{i}", bob))

            def client(f: dict[str, Any]) -> None:  # reacts as soon as a client could
                if f["type"] == "ready":
                    asyncio.get_running_loop().call_soon(burst)

            out.on_write = client
            s.on_text(hello(token))
            await until(lambda: len(out.of("sent")) == 300 or bool(out.closes))
            assert out.closes == []
            assert [f["client_msg_id"] for f in out.of("sent")] == [f"o{i}" for i in range(300)]
            await until(lambda: len(out.of("message")) == 300)  # its own copies, in order
            assert [m["seq"] for m in out.of("message")] == list(range(1, 301))

    asyncio.run(body())
