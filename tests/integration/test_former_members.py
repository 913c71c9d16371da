"""Former members (issue 13): a group one left or was removed from stays in one's list,
read only, on every device and across reloads: its history up to the departure and
nothing after (no message, member, name or receipt), until one deletes the chat or is
added back. A stranger gets what they always got: 404, revealing nothing."""

from __future__ import annotations

import pytest

from hubbub.client import ApiError, Connection, HubbubClient
from tests.support import ServerProcess, another_device, new_user, run


async def _refused(status: int, code: str, call: object) -> ApiError:
    with pytest.raises(ApiError) as e:
        await call  # type: ignore[misc]
    assert (e.value.status, e.value.code) == (status, code), e.value
    return e.value


def _entry(conversations: list[dict], cid: str) -> dict | None:
    return next((c for c in conversations if c["conversation_id"] == cid), None)


async def _sentinel(sender: HubbubClient, ws: Connection, to: str) -> None:
    """A direct message from `sender` to the socket's user, awaited there: frames for that
    user published before it have arrived before it (the bus is FIFO per user)."""
    sent = await (await sender.connect()).send_message("sentinel", to=to)
    await ws.expect("message", message_id=sent["message_id"])


def test_a_member_who_leaves_keeps_the_chat_read_only_up_to_the_departure(
    server: ServerProcess,
) -> None:
    async def body() -> None:
        owner, bob, dave = [await new_user(server.url) for _ in range(3)]
        assert owner.user_id and bob.user_id and dave.user_id
        g = await owner.create_group("club", [bob.user_id])
        gid = cid = g["conversation_id"]
        bob2 = await another_device(bob)
        ws_bob2 = await bob2.connect()
        m1 = await owner.post_message(cid, "first")
        m2 = await bob.post_message(cid, "mine")
        await bob.remove_member(gid, bob.user_id)  # bob leaves
        # his other device hears it live (the `group` frame without him)
        await ws_bob2.expect("group", where=lambda f: bob.user_id not in f["members"])
        # the others go on: new messages, a new name, a new member, reads
        m3 = await owner.post_message(cid, "after bob")
        await owner.request("PATCH", f"/v1/groups/{gid}", json={"name": "secret plans"})
        await owner.add_member(gid, dave.user_id)
        m4 = await dave.post_message(cid, "hello from dave")
        await (await owner.connect()).read(cid, m4["message_id"])
        for device in (bob, bob2):  # a reload, or any other device: the same
            entry = _entry(await device.conversations(), cid)
            assert entry is not None
            assert entry["membership"] == "left" and isinstance(entry["departed_at"], int)
            assert entry["kind"] == "group" and entry["group_id"] == gid
            assert entry["name"] == "club"  # as it was: no later rename
            assert entry["members"] == [] and entry["receipts"] == []
            assert entry["last_message"]["message_id"] == m2["message_id"]
            assert entry["unread_count"] == 0 and entry["read_upto"] == m2["message_id"]
        # history: what he was there for, however he pages
        ids = [m["message_id"] for m in await bob.history(cid)]
        assert ids == [m2["message_id"], m1["message_id"]]
        later = await bob.history(cid, before=m4["message_id"])
        assert [m["message_id"] for m in later] == ids
        assert [m["message_id"] for m in await bob.history(cid, limit=1)] == ids[:1]
        assert [m["message_id"] for m in await bob.history(cid, before=ids[0])] == ids[1:]
        assert m3["message_id"] not in {m["message_id"] for m in await bob.history(cid)}
        # read only: sending, reading, typing, adding, leaving again are refused as before
        await _refused(404, "not_found", bob.post_message(cid, "let me back"))
        ws_bob = await bob.connect()
        with pytest.raises(ApiError) as e:
            await ws_bob.send_message("ws too", conversation_id=cid)
        assert e.value.code == "not_found"
        await ws_bob.read(cid, m2["message_id"])
        assert (await ws_bob.expect("error"))["code"] == "not_found"
        await ws_bob.typing(cid)
        assert (await ws_bob.expect("error"))["code"] == "not_found"
        await _refused(403, "forbidden", bob.add_member(gid, bob.user_id))
        await _refused(403, "forbidden", bob.remove_member(gid, bob.user_id))
        await _refused(404, "not_found", bob.request("GET", f"/v1/groups/{gid}"))
        await _refused(
            404, "not_found",
            bob.request("PATCH", f"/v1/conversations/{cid}", json={"muted_until": -1}),
        )  # fmt: skip
        rename = bob.request("PATCH", f"/v1/groups/{gid}", json={"name": "x"})
        await _refused(403, "forbidden", rename)
        # the members' view is unchanged: no membership mark, the new name, dave
        mine = _entry(await owner.conversations(), cid)
        assert mine is not None and "membership" not in mine and mine["name"] == "secret plans"
        assert sorted(mine["members"]) == sorted([owner.user_id, dave.user_id])
        for ws in (ws_bob, ws_bob2):
            await ws.close()

    run(body())


def test_a_removed_member_learns_nothing_of_the_group_after_the_removal(
    server: ServerProcess,
) -> None:
    async def body() -> None:
        owner, carol, dave = [await new_user(server.url) for _ in range(3)]
        assert owner.user_id and carol.user_id and dave.user_id
        g = await owner.create_group("plans", [carol.user_id])
        cid = g["conversation_id"]
        seen = await owner.post_message(cid, "before")
        ws_carol = await carol.connect()
        await ws_carol.expect("message", message_id=seen["message_id"])  # (the backlog)
        await owner.remove_member(cid, carol.user_id)
        removed = await ws_carol.expect("group", where=lambda f: carol.user_id not in f["members"])
        assert removed["actor_id"] == owner.user_id
        await owner.request("PATCH", f"/v1/groups/{cid}", json={"name": "without carol"})
        await owner.add_member(cid, dave.user_id)
        await owner.post_message(cid, "secret")
        await _sentinel(owner, ws_carol, carol.user_id)
        heard = await ws_carol.collect(0)  # everything that came before the sentinel
        assert not [f for f in heard if f.get("conversation_id") == cid], heard
        entry = _entry(await carol.conversations(), cid)
        assert entry is not None and entry["membership"] == "removed"
        assert entry["name"] == "plans" and entry["members"] == []
        assert entry["last_message"]["message_id"] == seen["message_id"]
        bodies = [m["body"] for m in await carol.history(cid)]
        assert bodies == ["before"]
        await ws_carol.close()

    run(body())


def test_deleting_a_former_chat_removes_it_on_every_device(server: ServerProcess) -> None:
    async def body() -> None:
        owner, bob, eve = [await new_user(server.url) for _ in range(3)]
        assert owner.user_id and bob.user_id and eve.user_id
        g = await owner.create_group("club", [bob.user_id])
        cid = g["conversation_id"]
        await owner.post_message(cid, "hi")
        direct = (await owner.direct(bob.user_id))["conversation_id"]
        # one may delete only a group one is no longer in
        await _refused(409, "conflict", bob.request("DELETE", f"/v1/conversations/{cid}"))
        await _refused(409, "conflict", bob.request("DELETE", f"/v1/conversations/{direct}"))
        await _refused(404, "not_found", eve.request("DELETE", f"/v1/conversations/{cid}"))
        await bob.remove_member(cid, bob.user_id)
        bob2 = await another_device(bob)
        ws_bob2 = await bob2.connect()
        assert await bob.request("DELETE", f"/v1/conversations/{cid}") is None  # 204
        gone = await ws_bob2.expect("conversation_deleted", conversation_id=cid)
        assert gone == {"type": "conversation_deleted", "conversation_id": cid}
        for device in (bob, bob2):
            assert _entry(await device.conversations(), cid) is None
            await _refused(404, "not_found", device.history(cid))
        await _refused(404, "not_found", bob.request("DELETE", f"/v1/conversations/{cid}"))
        # the group goes on for its members
        assert [m["body"] for m in await owner.history(cid)] == ["hi"]
        await ws_bob2.close()

    run(body())


def test_a_member_added_back_is_a_member_again(server: ServerProcess) -> None:
    async def body() -> None:
        owner, bob = [await new_user(server.url) for _ in range(2)]
        assert owner.user_id and bob.user_id
        g = await owner.create_group("club", [bob.user_id])
        cid = g["conversation_id"]
        await owner.post_message(cid, "one")
        await bob.remove_member(cid, bob.user_id)
        await owner.post_message(cid, "while away")
        ws_bob = await bob.connect()
        await owner.add_member(cid, bob.user_id)
        await ws_bob.expect("group", where=lambda f: bob.user_id in f["members"])
        entry = _entry(await bob.conversations(), cid)
        assert entry is not None and "membership" not in entry and "departed_at" not in entry
        assert bob.user_id in entry["members"] and entry["name"] == "club"
        new = await owner.post_message(cid, "welcome back")
        await ws_bob.expect("message", message_id=new["message_id"])
        # a member sees the group's whole retained history, as every member does
        assert [m["body"] for m in await bob.history(cid)] == ["welcome back", "while away", "one"]
        await bob.post_message(cid, "thanks")
        await _refused(409, "conflict", bob.request("DELETE", f"/v1/conversations/{cid}"))
        await ws_bob.close()

    run(body())


def test_a_stranger_gets_exactly_what_a_missing_conversation_gets(server: ServerProcess) -> None:
    async def body() -> None:
        owner, bob, eve = [await new_user(server.url) for _ in range(3)]
        assert bob.user_id
        g = await owner.create_group("club", [bob.user_id])
        cid = g["conversation_id"]
        await owner.post_message(cid, "private")
        await bob.remove_member(cid, bob.user_id)  # a former member exists: not eve
        missing = str(int(cid) + 1)
        for path in (
            "/v1/conversations/{}/messages",
            "/v1/groups/{}",
        ):
            real = await _refused(404, "not_found", eve.request("GET", path.format(cid)))
            fake = await _refused(404, "not_found", eve.request("GET", path.format(missing)))
            assert real.message == fake.message
        real = await _refused(404, "not_found", eve.request("DELETE", f"/v1/conversations/{cid}"))
        fake = await _refused(
            404, "not_found", eve.request("DELETE", f"/v1/conversations/{missing}")
        )
        assert real.message == fake.message
        assert _entry(await eve.conversations(), cid) is None

    run(body())
