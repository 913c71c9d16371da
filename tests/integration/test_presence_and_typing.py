"""Presence (heartbeat timeout 2 s on the test server), last seen, and typing."""

from __future__ import annotations

import asyncio
import time

from hubbub.client import Connection, HubbubClient
from tests.support import ServerProcess, another_device, new_user, run


class Watched:
    """A watcher who has b as a contact, both connected, after b's `online` event."""

    watcher: HubbubClient
    b: HubbubClient
    ww: Connection
    wb: Connection
    online: dict

    @classmethod
    async def start(cls, url: str, *, b_heartbeat: bool = True) -> Watched:
        w = cls()
        w.watcher, w.b = await new_user(url), await new_user(url)
        await w.watcher.add_contact(w.b.user_id or "")
        w.ww = await w.watcher.connect()
        w.wb = await w.b.connect(heartbeat=b_heartbeat)
        w.online = await w.ww.expect("presence", user_id=w.b.user_id, status="online")
        return w


def test_online_then_offline_after_the_timeout_not_at_disconnect(server: ServerProcess) -> None:
    async def body() -> None:
        w = await Watched.start(server.url)
        watcher, b, ww, wb = w.watcher, w.b, w.ww, w.wb
        online = w.online
        assert (await watcher.presence(b.user_id))["status"] == "online"
        await wb.close()
        closed_at = time.time() * 1000
        assert (await watcher.presence(b.user_id))["status"] == "online"  # no flap
        offline = await ww.expect("presence", timeout=6, user_id=b.user_id, status="offline")
        assert offline["last_active_at"] >= online["last_active_at"]
        assert offline["last_active_at"] <= closed_at
        rest = await watcher.presence(b.user_id)
        assert rest == {
            "user_id": b.user_id,
            "status": "offline",
            "last_active_at": offline["last_active_at"],
        }
        contacts = await watcher.contacts()
        assert contacts[0]["status"] == "offline"
        assert contacts[0]["last_active_at"] == offline["last_active_at"]
        await ww.close()

    run(body())


def test_quick_reconnect_does_not_flap(server: ServerProcess) -> None:
    async def body() -> None:
        w = await Watched.start(server.url)
        b, ww, wb = w.b, w.ww, w.wb
        for _ in range(3):  # a flaky network: drop and come back within the timeout
            await wb.close()
            await asyncio.sleep(0.3)
            wb = await b.connect()
        frames = await ww.collect(1.0)
        assert [f for f in frames if f["type"] == "presence"] == [], frames
        await wb.close()
        await ww.close()

    run(body())


def test_heartbeats_keep_a_user_online(server: ServerProcess) -> None:
    async def body() -> None:
        watcher, b = await new_user(server.url), await new_user(server.url)
        await watcher.add_contact(b.user_id)
        ww = await watcher.connect()
        wb = await b.connect()  # pings every heartbeat_interval (timeout / 3)
        assert wb.ready["heartbeat_interval"] <= 2.0 / 2
        await ww.expect("presence", user_id=b.user_id, status="online")
        frames = await ww.collect(3.5)  # well past the 2 s timeout
        assert [f for f in frames if f["type"] == "presence"] == [], frames
        await wb.close()
        await ww.close()

    run(body())


def test_a_silent_socket_goes_offline(server: ServerProcess) -> None:
    async def body() -> None:
        w = await Watched.start(server.url, b_heartbeat=False)
        b, ww, wb = w.b, w.ww, w.wb
        await ww.expect("presence", timeout=6, user_id=b.user_id, status="offline")
        await wb.send_frame({"type": "ping"})
        assert (await wb.expect("pong"))["type"] == "pong"
        await ww.expect("presence", user_id=b.user_id, status="online")
        await wb.close()
        await ww.close()

    run(body())


def test_logout_of_the_only_device_is_offline_at_once(server: ServerProcess) -> None:
    async def body() -> None:
        w = await Watched.start(server.url)
        b, ww, wb = w.b, w.ww, w.wb
        started = time.monotonic()
        await b.log_out()
        closed = await wb.expect("__closed__")
        assert closed["code"] == 4002
        await ww.expect("presence", timeout=1.5, user_id=b.user_id, status="offline")
        assert time.monotonic() - started < 1.5  # not the 2 s heartbeat timeout
        await ww.close()

    run(body())


def test_logout_with_another_device_connected_stays_online(server: ServerProcess) -> None:
    async def body() -> None:
        watcher, b = await new_user(server.url), await new_user(server.url)
        b2 = await another_device(b)
        await watcher.add_contact(b.user_id)
        ww = await watcher.connect()
        wb, wb2 = await b.connect(), await b2.connect()
        await ww.expect("presence", user_id=b.user_id, status="online")
        await b.log_out()
        await wb.expect("__closed__")
        frames = await ww.collect(1.0)
        assert [f for f in frames if f["type"] == "presence"] == [], frames
        assert (await watcher.presence(b.user_id))["status"] == "online"
        await wb2.close()
        await ww.close()

    run(body())


def test_only_contacts_get_presence_and_only_participants_get_typing(
    server: ServerProcess,
) -> None:
    async def body() -> None:
        a, b, stranger = [await new_user(server.url) for _ in range(3)]
        conv = (await a.direct(b.user_id))["conversation_id"]
        wa, wb, ws = await a.connect(), await b.connect(), await stranger.connect()
        await wa.typing(conv)
        t = await wb.expect("typing", conversation_id=conv)
        assert t["user_id"] == a.user_id
        await ws.typing(conv)
        err = await ws.expect("error")
        assert err["code"] == "not_found"
        frames = await ws.collect(0.5)
        assert [f for f in frames if f["type"] in ("presence", "typing")] == []
        assert [f for f in await wa.collect(0) if f["type"] == "typing"] == []  # not to self
        for w in (wa, wb, ws):
            await w.close()

    run(body())
