"""A user's devices: listed, logged out one by one from another device (its socket is
closed with 4002 at once), capped per account, tokens renewed, and unused tokens
expiring."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hubbub.client import ApiError, HubbubClient
from tests.support import PASSWORD, ServerProcess, another_device, new_user, run


def test_list_my_devices_and_log_one_out_from_another(server: ServerProcess) -> None:
    async def body() -> None:
        phone = await new_user(server.url, device="phone")
        laptop = await another_device(phone, "laptop")
        stranger = await new_user(server.url)
        listed = (await laptop.request("GET", "/v1/sessions"))["devices"]
        assert [(d["name"], d["current"]) for d in listed] == [("laptop", True), ("phone", False)]
        ws = await phone.connect()
        with pytest.raises(ApiError) as e:  # someone else's device: as if it did not exist
            await stranger.request("DELETE", f"/v1/sessions/{phone.device_id}")
        assert e.value.status == 404
        await laptop.request("DELETE", f"/v1/sessions/{phone.device_id}")
        closed = await ws.expect("__closed__", timeout=10)
        assert closed["code"] == 4002
        with pytest.raises(ApiError) as e:
            await phone.me()
        assert e.value.status == 401
        assert [d["name"] for d in (await laptop.request("GET", "/v1/sessions"))["devices"]] == [
            "laptop"
        ]
        for c in (phone, laptop, stranger):
            await c.aclose()

    run(body())


def test_a_new_token_replaces_the_old_one(server: ServerProcess) -> None:
    async def body() -> None:
        api = await new_user(server.url)
        old = api.token
        fresh = (await api.request("POST", "/v1/sessions/current/token"))["token"]
        assert fresh != old
        api.token = fresh
        assert (await api.me())["user_id"] == api.user_id
        stale = HubbubClient(server.url, token=old)
        with pytest.raises(ApiError) as e:
            await stale.me()
        assert e.value.status == 401
        await stale.aclose()
        await api.aclose()

    run(body())


def test_devices_per_account_are_capped(tmp_path: Path) -> None:
    s = ServerProcess(tmp_path / "capped", 2.0, "--max-devices", "2").start()

    async def body() -> None:
        first = await new_user(s.url, device="first")
        ws = await first.connect()
        second = await another_device(first, "second")
        third = await another_device(first, "third")  # the least recently used goes
        assert (await ws.expect("__closed__", timeout=10))["code"] == 4002
        names = {d["name"] for d in (await third.request("GET", "/v1/sessions"))["devices"]}
        assert names == {"second", "third"}
        for c in (first, second, third):
            await c.aclose()

    try:
        run(body())
    finally:
        s.stop()


def test_an_unused_token_expires(tmp_path: Path) -> None:
    s = ServerProcess(tmp_path / "ttl", 2.0, "--token-ttl-days", "1").start()

    async def body() -> None:
        api = await new_user(s.url)
        assert (await api.me())["user_id"] == api.user_id
        # two days pass for this device: its last use is moved back in the database
        db = sqlite3.connect(tmp_path / "ttl" / "hubbub.sqlite3")
        two_days = 2 * 86_400_000
        db.execute(
            "UPDATE devices SET created_at = created_at - ?, last_used_at = 0 WHERE device_id = ?",
            (two_days, int(api.device_id or 0)),
        )
        db.commit()
        db.close()
        with pytest.raises(ApiError) as e:
            await api.me()
        assert e.value.status == 401
        again = HubbubClient(s.url)
        await again.log_in(api.username, PASSWORD)  # type: ignore[attr-defined]
        assert (await again.me())["user_id"] == api.user_id
        await again.aclose()
        await api.aclose()

    try:
        run(body())
    finally:
        s.stop()
