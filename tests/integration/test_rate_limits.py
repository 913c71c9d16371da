"""Rate limits on a real server: a refused call stores nothing and says when to come
back (REST 429 + Retry-After; frames `rate_limited` + client_msg_id + retry_after_ms),
and one abuser does not slow anyone else down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hubbub.client import ApiError
from tests.support import PASSWORD, ServerProcess, name, new_user, run


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = ServerProcess(
        tmp_path_factory.mktemp("tight"),
        2.0,
        "--rate-limit",
        "sends_per_user=20/0.01",
        "--rate-limit",
        "groups_per_user=2/0.001",
    ).start()
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]


def test_guessing_a_password_is_slowed_and_the_right_one_waits_too(server: ServerProcess) -> None:
    async def body() -> None:
        victim, bystander = await new_user(server.url), await new_user(server.url)
        async with httpx.AsyncClient(base_url=server.url) as http:
            wrong = {"username": victim.username, "password": "not the password"}  # type: ignore[attr-defined]
            codes = [(await http.post("/v1/sessions", json=wrong)).status_code for _ in range(10)]
            assert codes == [401] * 10
            right = {"username": victim.username, "password": PASSWORD}  # type: ignore[attr-defined]
            locked = await http.post("/v1/sessions", json=right)
            assert locked.status_code == 429
            assert locked.json()["error"]["code"] == "rate_limited"
            assert int(locked.headers["retry-after"]) >= 1
            other = {"username": bystander.username, "password": PASSWORD}  # type: ignore[attr-defined]
            assert (await http.post("/v1/sessions", json=other)).status_code == 201
        await victim.aclose()
        await bystander.aclose()

    run(body())


def test_a_send_flood_is_refused_frame_by_frame_and_stores_nothing(tight: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(tight.url), await new_user(tight.url)
        ws = await a.connect()
        futures = [  # pipelined, all at once
            await ws.submit("x", to=b.user_id, client_msg_id=f"f{i}") for i in range(40)
        ]
        answers = await asyncio.gather(*futures)
        sent = [f for f in answers if f["type"] == "sent"]
        refused = [f for f in answers if f["type"] == "error"]
        assert len(sent) == 20 and len(refused) == 20
        for e in refused:
            assert e["code"] == "rate_limited" and e["retry_after_ms"] > 0
            assert e["client_msg_id"].startswith("f")
        conv = sent[0]["conversation_id"]
        assert len(await a.history(conv, limit=100)) == 20  # the refused were not stored
        await ws.close()
        await a.aclose()
        await b.aclose()

    run(body())


def test_sign_ups_are_limited_per_client_address_behind_a_trusted_proxy(tmp_path: Path) -> None:
    s = ServerProcess(
        tmp_path / "proxied",
        2.0,
        "--trusted-proxies",
        "127.0.0.1",
        "--rate-limit",
        "signups_per_address=3/0.001",
    ).start()

    def sign_up(forwarded: str) -> int:
        r = httpx.post(
            s.url + "/v1/users",
            json={"username": name(), "password": PASSWORD},
            headers={"x-forwarded-for": forwarded},
        )
        return r.status_code

    try:
        assert [sign_up("10.9.0.1") for _ in range(4)] == [201, 201, 201, 429]
        assert sign_up("10.9.0.2") == 201  # another client behind the same proxy
        # what the client itself claims further left is not believed
        assert sign_up("10.9.0.3, 10.9.0.1") == 429
    finally:
        s.stop()


def test_group_creation_is_limited_and_nothing_is_half_made(tight: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(tight.url), await new_user(tight.url)
        made = [await a.create_group(f"g{i}", [b.user_id]) for i in range(2)]
        with pytest.raises(ApiError) as refused:
            await a.create_group("g3", [b.user_id])
        assert refused.value.status == 429 and refused.value.code == "rate_limited"
        groups = [c for c in await b.conversations() if c["kind"] == "group"]
        assert {g["conversation_id"] for g in groups} == {g["conversation_id"] for g in made}
        await a.aclose()
        await b.aclose()

    run(body())


def test_limits_off_for_benchmarks(tmp_path: Path) -> None:
    s = ServerProcess(
        tmp_path / "open", 2.0, "--rate-limits", "off", "--rate-limit", "sends_per_user=1/0.001"
    ).start()

    async def body() -> None:
        a, b = await new_user(s.url), await new_user(s.url)
        ws = await a.connect()
        results = await asyncio.gather(*(ws.send_message(f"m{i}", to=b.user_id) for i in range(30)))
        assert all(r["type"] == "sent" for r in results)
        await ws.close()
        await a.aclose()
        await b.aclose()

    try:
        run(body())
    finally:
        s.stop()
