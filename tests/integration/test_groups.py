"""Groups: creation, membership rules, limits, and delivery that follows membership."""

from __future__ import annotations

import pytest

from hubbub.client import ApiError
from tests.support import ServerProcess, messages_of, new_user, run


def test_group_lifecycle(server: ServerProcess) -> None:
    async def body() -> None:
        owner, b, c, d = [await new_user(server.url) for _ in range(4)]
        g = await owner.create_group("friends", [b.user_id, b.user_id])  # duplicates fold
        assert g["owner_id"] == owner.user_id and g["name"] == "friends"
        assert sorted(g["members"]) == sorted([owner.user_id, b.user_id])
        gid, cid = g["group_id"], g["conversation_id"]
        await b.add_member(gid, c.user_id)  # any member may add
        with pytest.raises(ApiError) as e:
            await d.add_member(gid, d.user_id)  # a non-member may not
        assert e.value.status == 403
        with pytest.raises(ApiError) as e:
            await b.remove_member(gid, c.user_id)  # only the owner removes others
        assert e.value.status == 403
        wc, wd = await c.connect(), await d.connect()
        hello = await (await owner.connect()).send_message("hi all", conversation_id=cid)
        got = await wc.expect("message", message_id=hello["message_id"])
        assert got["kind"] == "group" and got["conversation_id"] == cid
        await owner.remove_member(gid, c.user_id)
        with pytest.raises(ApiError) as e:
            await c.request("GET", f"/v1/groups/{gid}")
        assert e.value.status == 404
        wb = await b.connect()
        after = await wb.send_message("c is gone", conversation_id=cid)
        assert [f for f in await wc.collect(0.4) if f["type"] == "message"] == []
        assert after["conversation_id"] == cid
        # the owner leaves: the longest-standing member inherits the group
        await owner.remove_member(gid, owner.user_id)
        info = await b.request("GET", f"/v1/groups/{gid}")
        assert info["owner_id"] == b.user_id and owner.user_id not in info["members"]
        assert [f for f in await wd.collect(0.2) if f["type"] == "message"] == []
        for ws in (wc, wd, wb):
            await ws.close()

    run(body())


def test_group_limits_and_bad_requests(server: ServerProcess) -> None:
    async def body() -> None:
        owner = await new_user(server.url)
        for bad in (
            {"name": "", "members": []},
            {"name": "x", "members": "nope"},
            {"name": "x", "members": [123]},
            {"name": "x", "members": ["not-an-id"]},
            {"members": []},
        ):
            with pytest.raises(ApiError) as e:
                await owner.request("POST", "/v1/groups", json=bad)
            assert e.value.status == 400 and e.value.code == "bad_request", bad
        with pytest.raises(ApiError) as e:
            await owner.create_group("ghosts", ["123456789"])
        assert e.value.code == "not_found"
        assert await owner.conversations() == []  # nothing half-made

    run(body())


def test_group_fan_out_reaches_every_member_in_order(server: ServerProcess) -> None:
    async def body() -> None:
        members = [await new_user(server.url) for _ in range(6)]
        g = await members[0].create_group("six", [m.user_id for m in members[1:]])
        sockets = [await m.connect() for m in members]
        for i, (m, ws) in enumerate(zip(members, sockets, strict=True)):
            await ws.send_message(f"from {i}", conversation_id=g["conversation_id"])
            assert m.user_id
        per_member = [await messages_of(ws, 6) for ws in sockets]
        orders = [[f["message_id"] for f in frames] for frames in per_member]
        assert all(order == orders[0] for order in orders)  # everyone sees one order
        assert orders[0] == sorted(orders[0], key=int)  # and it is message-id order
        for ws in sockets:
            await ws.close()

    run(body())


def test_members_hear_of_group_changes(server: ServerProcess) -> None:
    async def body() -> None:
        owner, b, c = [await new_user(server.url) for _ in range(3)]
        wb, wc = await b.connect(), await c.connect()
        g = await owner.create_group("news", [b.user_id or ""])
        made = await wb.expect("group", group_id=g["group_id"])
        assert made["members"] == g["members"] and made["name"] == "news"
        await owner.add_member(g["group_id"], c.user_id or "")
        joined = await wc.expect("group", group_id=g["group_id"])
        assert c.user_id in joined["members"]
        await owner.remove_member(g["group_id"], b.user_id or "")
        left = await wb.expect("group", where=lambda f: b.user_id not in f["members"])
        assert left["conversation_id"] == g["conversation_id"]
        await wb.close()
        await wc.close()

    run(body())


def test_a_user_can_take_group_adds_from_contacts_only(server: ServerProcess) -> None:
    async def body() -> None:
        alice, bob, carol = [await new_user(server.url) for _ in range(3)]
        await bob.request("PATCH", "/v1/me", json={"group_adds": "contacts"})
        assert (await bob.me())["settings"]["group_adds"] == "contacts"
        with pytest.raises(ApiError) as refused:
            await alice.create_group("strangers", [bob.user_id, carol.user_id])
        assert refused.value.status == 403
        assert [c for c in await carol.conversations() if c["kind"] == "group"] == []  # nothing
        group = await alice.create_group("friends", [carol.user_id])
        with pytest.raises(ApiError) as refused:
            await carol.add_member(group["group_id"], bob.user_id)
        assert refused.value.status == 403
        await bob.add_contact(carol.user_id)  # bob knows carol now
        await carol.add_member(group["group_id"], bob.user_id)
        assert bob.user_id in (await alice.request("GET", f"/v1/groups/{group['group_id']}"))[
            "members"
        ]
        for c in (alice, bob, carol):
            await c.aclose()

    run(body())
