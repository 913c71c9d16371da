"""The Store port's guarantees, one suite run unchanged against every adapter on a real
engine: SQLite in a temp dir, PostgreSQL on a throwaway server (a fresh database per test).
The tests at the end need several nodes on one database, which only PostgreSQL allows."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from hubbub.adapters.postgres import PostgresStore
from hubbub.adapters.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from hubbub.adapters.sqlite import SqliteStore
from hubbub.core.errors import HubbubError
from hubbub.core.ids import IdGenerator
from hubbub.core.membership import founding_members
from hubbub.core.model import Receipt, StoredMessage, User
from tests.pg_server import PostgresServer, create_database, find_bindir

DAY_MS = 86_400_000
AnyStore = SqliteStore | PostgresStore
_databases = itertools.count(1)


class Backend:
    """Opens stores on one fresh database: several opens reach the same data (a restart,
    or with PostgreSQL, another node)."""

    def __init__(self, kind: str, tmp_path: Path, server: PostgresServer | None) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.dsn = ""
        self.batches: list[int] = []  # jobs per commit, as the stores report them to /metrics
        self.retries = 0  # jobs a deadlock or conflict rolled back (PostgreSQL)
        if server is not None:
            self.dsn = create_database(server, f"contract_{next(_databases)}")

    async def open(self, node_id: int = 1) -> AnyStore:
        store: AnyStore
        if self.kind == "sqlite":
            store = SqliteStore(
                self.tmp_path / "data", IdGenerator(node_id), on_commit=self._commit
            )
        else:
            store = PostgresStore(
                self.dsn, IdGenerator(node_id), on_commit=self._commit, on_retry=self._retry
            )
        await store.open()
        return store

    def _commit(self, jobs: int, seconds: float) -> None:
        self.batches.append(jobs)

    def _retry(self) -> None:
        self.retries += 1


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    yield Backend(request.param, tmp_path, server)


async def _users(store: AnyStore, *names: str) -> list[User]:
    return [await store.create_user(name, "h", name.title()) for name in names]


async def _send(store: AnyStore, sender: User, key: str, to: User, body: str = "x") -> int:
    sent = await store.append_message(
        sender.user_id, key, body, to_user=to.user_id, conversation_id=None
    )
    return sent.message_id


async def _refused(code: str, awaitable: object) -> None:
    assert asyncio.iscoroutine(awaitable)
    with pytest.raises(HubbubError) as e:
        await awaitable
    assert e.value.code == code, e.value


@contextlib.contextmanager
def _writer_statements(store: PostgresStore) -> Iterator[list[str]]:
    """The statements the store's writer connection runs inside the block (every batch
    runs on it)."""
    writer = store.engine._conn
    assert writer is not None
    statements: list[str] = []

    def logged(query: asyncpg.connection.LoggedQuery) -> None:
        statements.append(query.query)

    writer.add_query_logger(logged)
    try:
        yield statements
    finally:
        writer.remove_query_logger(logged)


# -- retention, batches, restarts (ported from the SQLite suite) ---------------------------


def test_retention_deletes_expired_entries_and_orphaned_messages(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        keeper = await store.create_user("keeper", "h", "Keeper")
        short = await store.create_user("short", "h", "Short")
        sent = [
            await store.append_message(
                keeper.user_id, f"k{i}", f"m{i}", to_user=short.user_id, conversation_id=None
            )
            for i in range(3)
        ]
        note = await store.append_message(
            short.user_id, "self", "note to self", to_user=short.user_id, conversation_id=None
        )
        await store.update_profile(short.user_id, None, 7, set_retention=True)
        await store.ack(short.user_id, 0, sent[1].inbox[short.user_id])  # 2 of 3 delivered
        now = int(time.time() * 1000)
        assert await store.purge_expired(now) == (0, 0)  # nothing is 7 days old yet
        # eight days later: short's delivered entries go (its note to self included); the
        # undelivered one stays (kept a year); the keeper keeps all of its own
        entries, messages = await store.purge_expired(now + 8 * DAY_MS)
        assert entries == 2 + 0 and messages == 0  # messages: the keeper still holds them
        left = [e.seq for e in await store.inbox_since(short.user_id, 0, 100)]
        assert left == [3, 4]  # the undelivered message and the (undelivered) note
        await store.ack(short.user_id, 0, 4)
        entries, messages = await store.purge_expired(now + 8 * DAY_MS)
        assert (entries, messages) == (2, 1)  # the note had no other holder: the row goes
        assert note.message_id not in {
            int(m.message_id) for m in await store.history(note.conversation_id, None, 10, 0)
        }
        kept = await store.inbox_since(keeper.user_id, 0, 100)
        assert [e.message.body for e in kept] == ["m0", "m1", "m2"]
        # a year on, undelivered entries of a retention user go as well
        await store.update_profile(keeper.user_id, None, 1, set_retention=True)
        entries, messages = await store.purge_expired(now + 400 * DAY_MS)
        assert entries == 3 and messages == 3
        # seq numbers are never reused after a purge
        again = await store.append_message(
            keeper.user_id, "after", "later", to_user=short.user_id, conversation_id=None
        )
        assert again.inbox[short.user_id] == 5
        # and idempotency outlives the purged row
        repeat = await store.append_message(
            keeper.user_id, "k0", "m0", to_user=short.user_id, conversation_id=None
        )
        assert repeat.duplicate and repeat.message_id == sent[0].message_id
        await store.close()

    asyncio.run(body())


def test_a_failing_write_in_a_batch_changes_nothing_and_spares_the_rest(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        a = await store.create_user("alice", "h", "A")
        b = await store.create_user("bob", "h", "B")
        jobs = []
        for i in range(50):
            target = b.user_id if i % 5 else 999  # every fifth send names no one
            jobs.append(
                store.append_message(a.user_id, f"c{i}", "x", to_user=target, conversation_id=None)
            )
        results = await asyncio.gather(*jobs, return_exceptions=True)
        failed = [r for r in results if isinstance(r, HubbubError)]
        assert len(failed) == 10 and all(f.code == "not_found" for f in failed)
        assert await store.inbox_head(b.user_id) == 40
        assert [e.seq for e in await store.inbox_since(b.user_id, 0, 100)] == list(range(1, 41))
        assert max(backend.batches) > 1  # the writes were group-committed
        await store.close()

    asyncio.run(body())


def test_close_commits_what_was_accepted(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        a = await store.create_user("alice", "h", "A")
        pending = [
            asyncio.ensure_future(
                store.append_message(
                    a.user_id, f"c{i}", "x", to_user=a.user_id, conversation_id=None
                )
            )
            for i in range(20)
        ]
        await asyncio.sleep(0)
        await store.close()
        assert all(p.done() and not p.exception() for p in pending)
        reopened = await backend.open()
        assert await reopened.inbox_head(a.user_id) == 20
        await reopened.close()

    asyncio.run(body())


def test_duplicate_username_is_a_conflict_and_changes_nothing(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        first = await store.create_user("alice", "h1", "A")
        with pytest.raises(HubbubError) as e:
            await store.create_user("alice", "h2", "Impostor")
        assert e.value.code == "conflict"
        assert await store.user_by_name("alice") == first
        assert await store.password_hash("alice") == (first.user_id, "h1")
        await store.close()

    asyncio.run(body())


def test_conversation_list_respects_the_readers_retention(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        a = await store.create_user("alice", "h", "A")
        b = await store.create_user("bob", "h", "B")
        for i in range(3):
            await store.append_message(
                a.user_id, f"c{i}", "x", to_user=b.user_id, conversation_id=None
            )
        (now_view,) = await store.conversations(b.user_id)
        assert now_view.unread_count == 3 and now_view.last_message is not None
        later = int(time.time() * 1000) + DAY_MS  # everything is older than this cut-off
        (cut_view,) = await store.conversations(b.user_id, later)
        assert cut_view.unread_count == 0 and cut_view.last_message is None
        await store.close()

    asyncio.run(body())


def test_seq_never_reused_after_purge_and_restart(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        a = await store.create_user("alice", "h", "A")
        b = await store.create_user("bob", "h", "B")
        for i in range(3):
            await store.append_message(
                a.user_id, f"c{i}", "x", to_user=b.user_id, conversation_id=None
            )
        for user in (a, b):
            await store.update_profile(user.user_id, None, 1, set_retention=True)
            await store.ack(user.user_id, 0, 3)
        entries, messages = await store.purge_expired(int(time.time() * 1000) + 2 * DAY_MS)
        assert (entries, messages) == (6, 3)  # every entry and message is gone
        await store.close()
        reopened = await backend.open()  # a cold start: no head is cached
        assert await reopened.inbox_head(b.user_id) == 3
        after = await reopened.append_message(
            a.user_id, "next", "x", to_user=b.user_id, conversation_id=None
        )
        assert after.inbox == {a.user_id: 4, b.user_id: 4}
        await reopened.close()

    asyncio.run(body())


# -- accounts, devices, contacts ------------------------------------------------------------


def test_users_profiles_and_passwords(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice = await store.create_user("alice", "h1", "Alice")
        assert await store.user_by_id(alice.user_id) == alice
        assert await store.user_by_name("alice") == alice
        assert await store.user_by_name("nobody") is None
        assert await store.user_by_id(12345) is None
        assert await store.password_hash("nobody") is None
        assert await store.password_hash("alice") == (alice.user_id, "h1")
        renamed = await store.update_profile(alice.user_id, "Al", None, set_retention=False)
        assert (renamed.display_name, renamed.history_retention_days) == ("Al", None)
        kept = await store.update_profile(alice.user_id, None, 30, set_retention=True)
        assert (kept.display_name, kept.history_retention_days) == ("Al", 30)
        untouched = await store.update_profile(alice.user_id, None, None, set_retention=False)
        assert untouched.history_retention_days == 30
        cleared = await store.update_profile(alice.user_id, None, None, set_retention=True)
        assert cleared.history_retention_days is None
        assert await store.user_by_id(alice.user_id) == cleared
        await _refused("not_found", store.update_profile(999, "x", None, set_retention=False))
        await store.close()

    asyncio.run(body())


def test_device_tokens_and_revocation(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        (alice,) = await _users(store, "alice")
        phone, _ = await store.create_device(alice.user_id, "phone", b"\x01" * 32, 10)
        laptop, _ = await store.create_device(alice.user_id, "laptop", b"\x02" * 32, 10)
        assert phone.device_id != laptop.device_id
        assert await store.device_by_token(b"\x01" * 32) == phone
        assert await store.device_by_token(b"\x03" * 32) is None
        await store.revoke_device(alice.user_id, phone.device_id)
        assert await store.device_by_token(b"\x01" * 32) is None  # logged out: not found
        assert await store.device_by_token(b"\x02" * 32) == laptop
        await store.revoke_device(alice.user_id, phone.device_id)  # twice is harmless
        assert await store.device_by_token(b"\x01" * 32) is None
        await store.close()

    asyncio.run(body())


def test_devices_are_listed_touched_capped_and_get_new_tokens(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob = await _users(store, "alice", "bob")
        made = []
        for i in range(3):
            device, evicted = await store.create_device(alice.user_id, f"d{i}", bytes([i]) * 32, 3)
            assert evicted == []
            made.append(device)
        assert [d.device_id for d in await store.devices(alice.user_id)] == [
            d.device_id
            for d in reversed(made)  # most recently used first
        ]
        await store.touch_device(alice.user_id, made[0].device_id, made[2].created_at + 10_000)
        assert (await store.devices(alice.user_id))[0].device_id == made[0].device_id
        # a fourth device logs out the least recently used one (d1), in the same commit
        fourth, evicted = await store.create_device(alice.user_id, "d3", b"\x09" * 32, 3)
        assert evicted == [made[1].device_id]
        assert await store.device_by_token(bytes([1]) * 32) is None
        assert {d.device_id for d in await store.devices(alice.user_id)} == {
            made[0].device_id,
            made[2].device_id,
            fourth.device_id,
        }
        assert await store.devices(bob.user_id) == []
        # a new token replaces the old one
        assert await store.replace_token(alice.user_id, fourth.device_id, b"\x0a" * 32)
        assert await store.device_by_token(b"\x09" * 32) is None
        assert (await store.device_by_token(b"\x0a" * 32)) is not None
        await store.revoke_device(alice.user_id, fourth.device_id)
        assert not await store.replace_token(alice.user_id, fourth.device_id, b"\x0b" * 32)
        touched = await store.device_by_token(bytes([0]) * 32)
        assert touched is not None and touched.last_used_at == made[2].created_at + 10_000
        await store.close()

    asyncio.run(body())


def test_contacts_watchers_and_last_active(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob, carol = await _users(store, "alice", "bob", "carol")
        await _refused("not_found", store.put_contact(alice.user_id, 999))
        await store.put_contact(alice.user_id, carol.user_id)
        await store.put_contact(alice.user_id, bob.user_id)
        await store.put_contact(alice.user_id, bob.user_id)  # twice is one contact
        await store.put_contact(carol.user_id, bob.user_id)
        await store.set_last_active(bob.user_id, 5000)
        await store.set_last_active(bob.user_id, 4000)  # never moves back
        assert await store.last_active(bob.user_id) == 5000
        assert await store.last_active(999) == 0
        assert await store.contacts(alice.user_id) == [(bob, 5000), (carol, 0)]  # by name
        assert sorted(await store.watchers(bob.user_id)) == sorted([alice.user_id, carol.user_id])
        await store.delete_contact(alice.user_id, bob.user_id)
        assert await store.contacts(alice.user_id) == [(carol, 0)]
        assert await store.watchers(bob.user_id) == [carol.user_id]
        await store.close()

    asyncio.run(body())


# -- conversations and groups -----------------------------------------------------------------


def test_direct_conversation_is_one_for_both_directions(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob = await _users(store, "alice", "bob")
        ab, ba = await asyncio.gather(
            store.direct_conversation(alice.user_id, bob.user_id),
            store.direct_conversation(bob.user_id, alice.user_id),
        )
        assert ab.conversation_id == ba.conversation_id and ab.kind == "direct"
        assert sorted(ab.member_ids) == sorted([alice.user_id, bob.user_id])
        again = await store.direct_conversation(alice.user_id, bob.user_id)
        assert again.conversation_id == ab.conversation_id
        sent = await store.append_message(
            bob.user_id, "c1", "hi", to_user=alice.user_id, conversation_id=None
        )
        assert sent.conversation_id == ab.conversation_id
        assert await store.conversation(ab.conversation_id) == again
        await _refused("not_found", store.direct_conversation(alice.user_id, 999))
        assert await store.conversation(999) is None
        await store.close()

    asyncio.run(body())


def test_group_membership_rules_and_owner_hand_over(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        owner, bob, carol, dave, eve = await _users(store, "owner", "bob", "carol", "dave", "eve")
        # who founds a group is core.membership's rule (tests/unit/test_membership.py)
        await _refused("not_found", store.create_group(owner.user_id, "g", [owner.user_id, 999]))
        founders = founding_members(owner.user_id, [bob.user_id, owner.user_id], 3)
        group = await store.create_group(owner.user_id, "g", founders)
        gid = group.conversation_id
        assert group.kind == "group" and group.name == "g" and group.owner_id == owner.user_id
        assert group.member_ids == (owner.user_id, bob.user_id)
        assert await store.conversation(gid) == group
        # adding: members only, within the limit, existing users; re-adding is a no-op
        await _refused("forbidden", store.add_member(gid, eve.user_id, carol.user_id, 3))
        await _refused("not_found", store.add_member(gid, bob.user_id, 999, 3))
        grown = await store.add_member(gid, bob.user_id, carol.user_id, 3)
        assert grown.member_ids == (owner.user_id, bob.user_id, carol.user_id)
        assert await store.add_member(gid, owner.user_id, carol.user_id, 3) == grown
        await _refused("group_full", store.add_member(gid, owner.user_id, dave.user_id, 3))
        direct = await store.direct_conversation(owner.user_id, bob.user_id)
        await _refused(
            "not_found", store.add_member(direct.conversation_id, owner.user_id, dave.user_id, 9)
        )
        # removing: only the owner removes others; anyone may leave
        await _refused("forbidden", store.remove_member(gid, bob.user_id, carol.user_id))
        await _refused("not_found", store.remove_member(gid, owner.user_id, dave.user_id))
        await _refused("forbidden", store.remove_member(gid, eve.user_id, eve.user_id))
        left = await store.remove_member(gid, carol.user_id, carol.user_id)
        assert left.member_ids == (owner.user_id, bob.user_id)
        await store.add_member(gid, owner.user_id, dave.user_id, 3)
        # the owner leaves: the longest-standing member inherits
        handed = await store.remove_member(gid, owner.user_id, owner.user_id)
        assert handed.owner_id == bob.user_id and handed.member_ids == (bob.user_id, dave.user_id)
        assert await store.conversation(gid) == handed
        # non-members may not write; members' sends reach every member's inbox
        await _refused(
            "not_found",
            store.append_message(owner.user_id, "o1", "x", to_user=None, conversation_id=gid),
        )
        sent = await store.append_message(
            dave.user_id, "d1", "hi", to_user=None, conversation_id=gid
        )
        assert sent.inbox == {bob.user_id: 1, dave.user_id: 1}
        await _refused(
            "not_found",
            store.append_message(dave.user_id, "d2", "x", to_user=None, conversation_id=999),
        )
        await store.close()

    asyncio.run(body())


def test_a_departed_member_keeps_a_former_record_until_added_back_or_deleted(
    backend: Backend,
) -> None:
    """Leaving or being removed records, in the same commit, how and up to which message
    the user may still read the group and under which name; being added back clears it,
    and so does deleting the chat. Records survive a restart."""

    async def body() -> None:
        store = await backend.open()
        owner, bob, carol, eve = await _users(store, "owner", "bob", "carol", "eve")
        group = await store.create_group(
            owner.user_id, "g", [owner.user_id, bob.user_id, carol.user_id]
        )
        gid = group.conversation_id

        async def post(sender: User, key: str) -> int:
            sent = await store.append_message(
                sender.user_id, key, key, to_user=None, conversation_id=gid
            )
            return sent.message_id

        await post(owner, "m1")
        m2 = await post(bob, "m2")
        before = time.time() * 1000
        await store.remove_member(gid, bob.user_id, bob.user_id)  # bob leaves
        left = await store.former_membership(bob.user_id, gid)
        assert left is not None
        assert (left.conversation_id, left.user_id, left.how, left.upto, left.name) == (
            gid, bob.user_id, "left", m2, "g",
        )  # fmt: skip
        assert before - 1 <= left.departed_at <= time.time() * 1000 + 1
        m3 = await post(owner, "m3")  # after bob: not his
        # a rename is any member's; a former member keeps the name of their time
        await _refused("forbidden", store.rename_group(gid, bob.user_id, "mine"))
        await _refused("not_found", store.rename_group(m3, owner.user_id, "x"))
        renamed = await store.rename_group(gid, carol.user_id, "g2")
        assert renamed.name == "g2" and renamed.member_ids == (owner.user_id, carol.user_id)
        assert await store.conversation(gid) == renamed
        assert (await store.former_membership(bob.user_id, gid)) == left
        await store.remove_member(gid, owner.user_id, carol.user_id)  # carol is removed
        removed = await store.former_membership(carol.user_id, gid)
        assert removed is not None
        assert (removed.how, removed.upto, removed.name) == ("removed", m3, "g2")
        # only the departed have records, each their own
        assert await store.former_memberships(bob.user_id) == [left]
        assert await store.former_memberships(owner.user_id) == []
        assert await store.former_membership(eve.user_id, gid) is None
        assert await store.former_membership(owner.user_id, gid) is None
        await store.close()
        store = await backend.open()  # durable
        assert await store.former_membership(carol.user_id, gid) == removed
        # added back: a member again, no record; leaving again records the new point
        back = await store.add_member(gid, owner.user_id, bob.user_id, 10)
        assert bob.user_id in back.member_ids
        assert await store.former_membership(bob.user_id, gid) is None
        m4 = await post(bob, "m4")
        await store.remove_member(gid, bob.user_id, bob.user_id)
        again = await store.former_membership(bob.user_id, gid)
        assert again is not None and (again.how, again.upto) == ("left", m4)
        # deleting the chat: the record goes, once; strangers have nothing to delete
        assert await store.forget_former(carol.user_id, gid) is True
        assert await store.forget_former(carol.user_id, gid) is False
        assert await store.former_membership(carol.user_id, gid) is None
        assert await store.forget_former(eve.user_id, gid) is False
        assert (await store.conversation(gid)) is not None  # the group itself goes on
        # the last member leaves a group with no messages: nothing to read
        solo = await store.create_group(eve.user_id, "solo", [eve.user_id])
        await store.remove_member(solo.conversation_id, eve.user_id, eve.user_id)
        empty = await store.former_membership(eve.user_id, solo.conversation_id)
        assert empty is not None and (empty.upto, empty.name) == (0, "solo")
        await store.close()

    asyncio.run(body())


# -- the message path -----------------------------------------------------------------------


def test_duplicate_sends_return_the_original(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob = await _users(store, "alice", "bob")
        # the same key twice in one batch
        one, two = await asyncio.gather(
            store.append_message(
                alice.user_id, "k1", "x1", to_user=bob.user_id, conversation_id=None
            ),
            store.append_message(
                alice.user_id, "k1", "x1", to_user=bob.user_id, conversation_id=None
            ),
        )
        assert [one.duplicate, two.duplicate] == [False, True]
        assert two.message_id == one.message_id and two.inbox == {}
        assert two.message.body == "x1" and two.message.client_msg_id == "k1"
        # and across calls, even with another body: the original comes back
        again = await store.append_message(
            alice.user_id, "k1", "other", to_user=bob.user_id, conversation_id=None
        )
        assert again.duplicate and again.message == one.message
        assert await store.inbox_head(bob.user_id) == 1
        assert len(await store.history(one.conversation_id, None, 10, 0)) == 1
        # keys are per sender
        theirs = await store.append_message(
            bob.user_id, "k1", "x", to_user=alice.user_id, conversation_id=None
        )
        assert not theirs.duplicate and theirs.inbox == {alice.user_id: 2, bob.user_id: 2}
        # a retry that comes after the sender left the group still gets its original
        group = await store.create_group(alice.user_id, "g", [alice.user_id, bob.user_id])
        first = await store.append_message(
            bob.user_id, "g1", "hi all", to_user=None, conversation_id=group.conversation_id
        )
        await store.remove_member(group.conversation_id, bob.user_id, bob.user_id)
        retry = await store.append_message(
            bob.user_id, "g1", "hi all", to_user=None, conversation_id=group.conversation_id
        )
        assert retry.duplicate and retry.message_id == first.message_id
        await _refused("not_found", store.append_message(
            bob.user_id, "g2", "new", to_user=None, conversation_id=group.conversation_id
        ))  # fmt: skip
        await store.close()

    asyncio.run(body())


def test_inbox_seqs_are_gap_free_under_concurrent_appends(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        target, *senders = await _users(store, "target", "s1", "s2", "s3", "s4")
        results = await asyncio.gather(
            *(
                store.append_message(
                    senders[i % 4].user_id,
                    f"c{i}",
                    f"m{i}",
                    to_user=target.user_id,
                    conversation_id=None,
                )
                for i in range(200)
            )
        )
        assert sorted(r.inbox[target.user_id] for r in results) == list(range(1, 201))
        for sender in senders:  # each sender's own inbox is gap-free too
            mine = sorted(r.inbox[sender.user_id] for r in results if sender.user_id in r.inbox)
            assert mine == list(range(1, 51))
        entries = await store.inbox_since(target.user_id, 0, 500)
        assert [e.seq for e in entries] == list(range(1, 201))
        by_seq = {r.inbox[target.user_id]: r.message_id for r in results}
        assert [int(e.message.message_id) for e in entries] == [by_seq[s] for s in range(1, 201)]
        assert await store.inbox_head(target.user_id) == 200
        assert [e.seq for e in await store.inbox_since(target.user_id, 150, 10)] == list(
            range(151, 161)
        )
        assert max(backend.batches) > 1
        await store.close()

    asyncio.run(body())


def test_ack_yields_delivered_receipts_once_and_refuses_past_the_head(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob, carol = await _users(store, "alice", "bob", "carol")
        phone, _ = await store.create_device(bob.user_id, "phone", b"p" * 32, 10)
        m1 = await _send(store, alice, "a1", bob)
        m2 = await _send(store, alice, "a2", bob)
        await _send(store, bob, "b1", alice)  # bob's own message: no receipt for it
        m4 = await _send(store, carol, "c1", bob)
        await _refused("bad_request", store.ack(bob.user_id, phone.device_id, 5))
        first = await store.ack(bob.user_id, phone.device_id, 1)
        assert [(r.status, r.message_id, r.reader_id, r.notify) for r in first] == [
            ("delivered", m1, bob.user_id, frozenset({alice.user_id}))
        ]
        receipts = await store.ack(bob.user_id, phone.device_id, 4)
        by_conv = {r.message_id: r.notify for r in receipts}
        assert by_conv == {m2: frozenset({alice.user_id}), m4: frozenset({carol.user_id})}
        assert await store.ack(bob.user_id, phone.device_id, 4) == []  # once
        assert await store.ack(bob.user_id, phone.device_id, 2) == []  # never backwards
        # a later entry acked later yields only the new one
        m5 = await _send(store, alice, "a3", bob)
        (late,) = await store.ack(bob.user_id, phone.device_id, 5)
        assert late.message_id == m5
        await store.close()

    asyncio.run(body())


def test_mark_read_moves_forward_only(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob, carol = await _users(store, "alice", "bob", "carol")
        group = await store.create_group(
            alice.user_id, "g", [alice.user_id, bob.user_id, carol.user_id]
        )
        gid = group.conversation_id
        sent = [
            await store.append_message(s.user_id, f"k{i}", "x", to_user=None, conversation_id=gid)
            for i, s in enumerate([alice, carol, bob, alice])
        ]
        receipt = await store.mark_read(bob.user_id, gid, sent[2].message_id)
        assert receipt is not None and receipt.status == "read"
        assert (receipt.conversation_id, receipt.message_id, receipt.reader_id) == (
            gid,
            sent[2].message_id,
            bob.user_id,
        )
        assert receipt.notify == frozenset({alice.user_id, carol.user_id})
        assert await store.mark_read(bob.user_id, gid, sent[2].message_id) is None
        assert await store.mark_read(bob.user_id, gid, sent[0].message_id) is None  # not back
        ahead = await store.mark_read(bob.user_id, gid, sent[3].message_id)
        assert ahead is not None and ahead.notify == frozenset({alice.user_id})
        direct = await _send(store, alice, "d1", bob)
        await _refused("not_found", store.mark_read(bob.user_id, gid, direct))  # other conv
        outsider = await store.create_user("dave", "h", "D")
        await _refused("not_found", store.mark_read(outsider.user_id, gid, sent[3].message_id))
        (summary,) = [
            s
            for s in await store.conversations(bob.user_id)
            if s.conversation.conversation_id == gid
        ]
        assert summary.read_upto == sent[3].message_id and summary.unread_count == 0
        await store.close()

    asyncio.run(body())


def test_history_pages_newest_first_and_honours_not_before(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob = await _users(store, "alice", "bob")
        ids = [await _send(store, alice, f"k{i}", bob, f"m{i}") for i in range(5)]
        cid = (await store.direct_conversation(alice.user_id, bob.user_id)).conversation_id
        page = await store.history(cid, None, 2, 0)
        assert [int(m.message_id) for m in page] == [ids[4], ids[3]]
        assert [m.body for m in page] == ["m4", "m3"] and page[0].kind == "direct"
        assert page[0].sender_id == str(alice.user_id) and page[0].conversation_id == str(cid)
        page = await store.history(cid, int(page[-1].message_id), 2, 0)
        assert [int(m.message_id) for m in page] == [ids[2], ids[1]]
        page = await store.history(cid, int(page[-1].message_id), 2, 0)
        assert [int(m.message_id) for m in page] == [ids[0]]
        later = int(time.time() * 1000) + DAY_MS
        assert await store.history(cid, None, 10, later) == []
        assert await store.history(999, None, 10, 0) == []
        await store.close()

    asyncio.run(body())


def test_conversation_list_order_unread_counts_and_receipt_watermarks(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob, carol = await _users(store, "alice", "bob", "carol")
        a1 = await _send(store, alice, "a1", bob)
        a2 = await _send(store, alice, "a2", bob)
        group = await store.create_group(carol.user_id, "g", [carol.user_id, alice.user_id])
        c1 = await _send(store, carol, "c1", alice)
        # alice: newest activity first (the direct with carol, the new group, bob's)
        views = await store.conversations(alice.user_id)
        order = [v.conversation.conversation_id for v in views]
        with_bob = (await store.direct_conversation(alice.user_id, bob.user_id)).conversation_id
        with_carol = await store.direct_conversation(alice.user_id, carol.user_id)
        assert order == [with_carol.conversation_id, group.conversation_id, with_bob]
        assert [v.unread_count for v in views] == [1, 0, 0]  # her own sends are not unread
        assert views[0].last_message is not None and int(views[0].last_message.message_id) == c1
        assert views[1].last_message is None
        assert views[2].receipts == ((bob.user_id, 0, 0),)  # bob has neither fetched nor read
        # bob fetches one message and reads it, then fetches the second
        await store.ack(bob.user_id, 0, 1)
        await store.mark_read(bob.user_id, with_bob, a1)
        (bob_view,) = await store.conversations(bob.user_id)
        assert bob_view.unread_count == 1 and bob_view.read_upto == a1
        await store.ack(bob.user_id, 0, 2)
        (_, _, alices) = await store.conversations(alice.user_id)
        assert alices.receipts == ((bob.user_id, a2, a1),)
        # a new message moves bob's conversation to the top of alice's list
        await _send(store, bob, "b1", alice)
        views = await store.conversations(alice.user_id)
        assert views[0].conversation.conversation_id == with_bob and views[0].unread_count == 1
        grp = next(v for v in views if v.conversation.conversation_id == group.conversation_id)
        assert grp.conversation.name == "g" and grp.receipts == ((carol.user_id, 0, 0),)
        assert await store.conversations(999) == []
        await store.close()

    asyncio.run(body())


def test_purge_keeps_users_without_retention_and_undelivered_entries(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        alice, bob = await _users(store, "alice", "bob")
        for i in range(3):
            await _send(store, alice, f"k{i}", bob)
        await store.update_profile(bob.user_id, None, 1, set_retention=True)
        now = int(time.time() * 1000)
        # nobody has fetched anything: bob's entries are kept a year despite his retention
        assert await store.purge_expired(now + 30 * DAY_MS) == (0, 0)
        await store.ack(bob.user_id, 0, 2)
        assert await store.purge_expired(now + 30 * DAY_MS) == (2, 0)
        assert [e.seq for e in await store.inbox_since(bob.user_id, 0, 10)] == [3]
        # alice keeps everything (no retention), so no message row goes
        assert len(await store.inbox_since(alice.user_id, 0, 10)) == 3
        assert await store.purge_expired(now + 400 * DAY_MS) == (1, 0)
        assert await store.inbox_head(bob.user_id) == 3
        await store.close()

    asyncio.run(body())


# -- several nodes on one database (PostgreSQL only) ---------------------------------------


@pytest.fixture
def pg_backend(postgres_server: PostgresServer, tmp_path: Path) -> Backend:
    return Backend("postgres", tmp_path, postgres_server)


def test_nodes_migrating_at_once_apply_each_version_once(pg_backend: Backend) -> None:
    async def body() -> None:
        stores = await asyncio.gather(*(pg_backend.open(node) for node in (1, 2, 3)))
        conn = await asyncpg.connect(pg_backend.dsn)
        try:
            rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [r[0] for r in rows] == [v for v, _ in PG_MIGRATIONS]  # each once
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
        finally:
            await conn.close()
        for store in stores:
            await store.close()

    asyncio.run(body())


def test_nodes_writing_at_once_keep_seqs_conversations_and_keys(pg_backend: Backend) -> None:
    async def body() -> None:
        one = await pg_backend.open(1)
        two = await pg_backend.open(2)
        target, *senders = await _users(one, "target", "s1", "s2", "s3")
        # both nodes get-or-create the same direct conversation at once
        x, y = await asyncio.gather(
            one.direct_conversation(senders[0].user_id, target.user_id),
            two.direct_conversation(target.user_id, senders[0].user_id),
        )
        assert x.conversation_id == y.conversation_id
        # interleaved sends from both nodes to one user: one gap-free inbox
        results = await asyncio.gather(
            *(
                (one if i % 2 else two).append_message(
                    senders[i % 3].user_id,
                    f"c{i}",
                    "x",
                    to_user=target.user_id,
                    conversation_id=None,
                )
                for i in range(120)
            )
        )
        assert sorted(r.inbox[target.user_id] for r in results) == list(range(1, 121))
        assert await one.inbox_head(target.user_id) == 120
        # the same key sent through both nodes at once: one original, one duplicate
        for i in range(20):
            a, b = await asyncio.gather(
                one.append_message(
                    senders[0].user_id,
                    f"race{i}",
                    "r",
                    to_user=target.user_id,
                    conversation_id=None,
                ),
                two.append_message(
                    senders[0].user_id,
                    f"race{i}",
                    "r",
                    to_user=target.user_id,
                    conversation_id=None,
                ),
            )
            assert sorted([a.duplicate, b.duplicate]) == [False, True]
            assert a.message_id == b.message_id
        assert await two.inbox_head(target.user_id) == 140
        await one.close()
        await two.close()

    asyncio.run(body())


def test_the_writer_recovers_from_a_lost_connection(pg_backend: Backend) -> None:
    async def body() -> None:
        store = await pg_backend.open()
        alice, bob = await _users(store, "alice", "bob")
        admin = await asyncpg.connect(pg_backend.dsn)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid != pg_backend_pid()"
            )
            assert killed >= 1
        finally:
            await admin.close()
        outcome: list[str] = []
        for i in range(3):  # at most the batch on the dead connection fails, as unavailable
            try:
                await _send(store, alice, f"k{i}", bob)
                outcome.append("ok")
            except HubbubError as e:
                outcome.append(e.code)
        assert outcome in (["ok", "ok", "ok"], ["unavailable", "ok", "ok"]), outcome
        assert await store.inbox_head(bob.user_id) == outcome.count("ok")
        await store.close()

    asyncio.run(body())


def test_a_read_the_server_refuses_a_connection_for_is_unavailable(tmp_path: Path) -> None:
    """A PostgreSQL that refuses new sessions while it shuts down or starts after a crash
    (57P03, "the database system is shutting down / starting up": the window after a
    kill -9) is `unavailable` to the caller, never a raw driver error (the REST edge would
    answer it 500). Made to happen on a server of its own: a smart shutdown waits for the
    open sessions and refuses new ones, and a second read at once needs a new one."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(bindir).start()

    async def body() -> None:
        store = PostgresStore(create_database(server, "refusing"), IdGenerator(1))
        await store.open()
        (alice,) = await _users(store, "alice")
        held = asyncio.ensure_future(store.engine.read(lambda c: c.fetchval("SELECT pg_sleep(2)")))
        await asyncio.sleep(0.2)  # the pool's one connection is busy with it
        await asyncio.to_thread(server.begin_smart_shutdown)
        with pytest.raises(HubbubError) as refused:
            await store.user_by_id(alice.user_id)
        assert refused.value.code == "unavailable"
        await held  # the open session finishes its work
        await store.close()

    try:
        asyncio.run(body())
    finally:
        server.stop()  # -m fast ends the smart shutdown if it still waits


def test_three_nodes_sending_acking_reading_and_regrouping_never_deadlock(
    pg_backend: Backend, postgres_server: PostgresServer
) -> None:
    """Three engines on one database (three nodes) write across the same users at once:
    direct and group sends in crossing orders, acks, reads, members joining and leaving
    groups, presence and profile writes. Each batch takes its advisory locks in one global
    order before it runs a job, so nothing may ever wait in a cycle: no job is retried and
    PostgreSQL's log has no deadlock. Every inbox stays gap-free and each sender's messages
    keep their order."""

    async def body() -> None:
        deadlocks_before = postgres_server.log().count("deadlock detected")
        nodes = [await pg_backend.open(n) for n in (1, 2, 3)]
        users = await _users(nodes[0], *(f"s{i}" for i in range(10)))
        ids = [u.user_id for u in users]
        groups = [
            await nodes[0].create_group(users[g].user_id, f"g{g}", ids[g : g + 5]) for g in (0, 5)
        ]
        rnd = random.Random(7)
        sent: list[StoredMessage] = []

        async def sender(n: int, me: User) -> None:
            for k in range(60):
                store = nodes[(n + k) % 3]
                if k % 4 == 0:
                    group = groups[k % 2]
                    if me.user_id not in group.member_ids:
                        continue
                    target: dict[str, int | None] = {
                        "to_user": None,
                        "conversation_id": group.conversation_id,
                    }
                else:
                    target = {"to_user": rnd.choice(ids), "conversation_id": None}
                try:
                    sent.append(await store.append_message(me.user_id, f"{n}-{k}", "x", **target))
                except HubbubError as e:  # a group it just left
                    assert e.code == "not_found"

        async def acker(n: int, me: User) -> None:
            for k in range(40):
                store = nodes[k % 3]
                head = await store.inbox_head(me.user_id)
                await store.ack(me.user_id, 0, head)
                for e in await store.inbox_since(me.user_id, max(head - 3, 0), 3):
                    with contextlib.suppress(HubbubError):  # a group it has left since
                        await store.mark_read(
                            me.user_id, int(e.message.conversation_id), int(e.message.message_id)
                        )
                await store.set_last_active(me.user_id, 1000 + k)
                await asyncio.sleep(0)

        async def churn() -> None:
            for k in range(30):
                store, group, who = nodes[k % 3], groups[k % 2], users[(k * 3) % 10]
                if k % 2:
                    with contextlib.suppress(HubbubError):
                        await store.add_member(
                            group.conversation_id, group.owner_id or 0, who.user_id, 20
                        )
                else:
                    with contextlib.suppress(HubbubError):
                        await store.remove_member(group.conversation_id, who.user_id, who.user_id)
                    if k % 3 == 0:  # and the chat deleted (its keys: the group's and the user's)
                        await store.forget_former(who.user_id, group.conversation_id)

        await asyncio.gather(
            *(sender(n, u) for n, u in enumerate(users)),
            *(acker(n, u) for n, u in enumerate(users)),
            churn(),
        )
        for u in users:
            entries = await nodes[1].inbox_since(u.user_id, 0, 10_000)
            assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        for u in users:  # each sender's messages in the order it sent them
            mine = sorted(
                (m for m in sent if int(m.message.sender_id) == u.user_id),
                key=lambda m: int(m.message.client_msg_id.split("-")[1]),
            )
            assert [m.message_id for m in mine] == sorted(m.message_id for m in mine)
        assert pg_backend.retries == 0, "a job was rolled back by a deadlock or conflict"
        assert postgres_server.log().count("deadlock detected") == deadlocks_before
        for store in nodes:
            await store.close()

    asyncio.run(body())


def test_a_batch_runs_its_sends_and_acks_in_a_few_round_trips_in_queue_order(
    pg_backend: Backend,
) -> None:
    """The writer gathers a batch's sends into one statement and its acks into another
    (engine.py, "Bulk"): sixty jobs queued at once take a handful of round trips, the
    sends keep the order they were queued in, and a refused job fails alone."""

    async def body() -> None:
        store = await pg_backend.open()
        assert isinstance(store, PostgresStore)
        alice, bob, carol = await _users(store, "alice", "bob", "carol")
        earlier = {await _send(store, alice, f"warm{i}", bob) for i in range(3)}
        earlier.add(await _send(store, carol, "warm", bob))  # bob's seqs 1..4
        with _writer_statements(store) as statements:
            sends = [
                store.append_message(a.user_id, f"k{i}", f"m{i}", to_user=bob.user_id,
                                     conversation_id=None)
                for i in range(25)
                for a in (alice, carol)
            ]  # fmt: skip
            acks = [store.ack(bob.user_id, 0, seq) for seq in (1, 2, 3, 4)]
            past_head = store.ack(bob.user_id, 0, 10**6)
            no_user = store.append_message(
                alice.user_id, "nobody", "x", to_user=10**12, conversation_id=None
            )
            done = await asyncio.gather(*sends, *acks, past_head, no_user, return_exceptions=True)
        messages, receipts = done[: len(sends)], done[len(sends) : len(sends) + len(acks)]
        refused = [e.code if isinstance(e, HubbubError) else e for e in done[-2:]]
        assert refused == ["bad_request", "not_found"]
        assert all(isinstance(m, StoredMessage) for m in messages), messages
        for who in (alice, carol):  # queue order is commit order: ids and bob's seqs rise
            mine = [m for m in messages if int(m.message.sender_id) == who.user_id]
            assert [m.message_id for m in mine] == sorted(m.message_id for m in mine)
            seqs = [m.inbox[bob.user_id] for m in mine]
            assert seqs == sorted(seqs)
        assert sorted(m.inbox[bob.user_id] for m in messages) == list(range(5, 55))
        assert {int(r.message_id) for rs in receipts for r in rs} == earlier
        assert len(statements) < len(done) / 4, statements
        await store.close()

    asyncio.run(body())


def test_a_batch_runs_its_reads_last_seen_and_touches_in_a_few_round_trips(
    pg_backend: Backend,
) -> None:
    """Reads, last-seen times and device touches queued at once run as one statement per
    kind (hubbub_read_many, last_active_many, touch_many), in queue order: a later read
    of the same user sees the earlier one, a refused read fails alone, a user's or a
    device's stamps named twice keep the later."""

    async def body() -> None:
        store = await pg_backend.open()
        assert isinstance(store, PostgresStore)
        alice, bob, carol = await _users(store, "alice", "bob", "carol")
        outsider = await store.create_user("dave", "h", "D")
        device, _ = await store.create_device(alice.user_id, "phone", b"\x01" * 32, 5)
        group = await store.create_group(
            alice.user_id, "g", [alice.user_id, bob.user_id, carol.user_id]
        )
        gid = group.conversation_id
        sent = [
            await store.append_message(s.user_id, f"k{i}", "x", to_user=None, conversation_id=gid)
            for i, s in enumerate([alice, carol, alice])
        ]
        ids = [m.message_id for m in sent]
        direct = await _send(store, alice, "d1", bob)
        with _writer_statements(store) as statements:
            done = await asyncio.gather(
                store.mark_read(bob.user_id, gid, ids[1]),  # alice and carol sent up to it
                store.mark_read(bob.user_id, gid, ids[0]),  # behind the read before it: None
                store.mark_read(carol.user_id, gid, ids[2]),
                store.mark_read(outsider.user_id, gid, ids[2]),  # not a member
                store.mark_read(bob.user_id, gid, direct),  # not in that conversation
                store.set_last_active(bob.user_id, 5000),
                store.set_last_active(bob.user_id, 7000),
                store.set_last_active(bob.user_id, 6000),
                store.touch_device(alice.user_id, device.device_id, device.created_at + 9000),
                store.touch_device(alice.user_id, device.device_id, device.created_at + 3000),
                return_exceptions=True,
            )
        bob_read, behind, carol_read = done[:3]
        assert isinstance(bob_read, Receipt) and isinstance(carol_read, Receipt), done
        assert bob_read.notify == frozenset({alice.user_id, carol.user_id})
        assert carol_read.notify == frozenset({alice.user_id})  # her own is not notified
        assert behind is None
        refused = [e.code if isinstance(e, HubbubError) else e for e in done[3:5]]
        assert refused == ["not_found", "not_found"]
        assert done[5:] == [None] * 5
        assert await store.last_active(bob.user_id) == 7000
        (touched,) = await store.devices(alice.user_id)
        assert touched.last_used_at == device.created_at + 9000
        assert await store.mark_read(bob.user_id, gid, ids[1]) is None  # it was stored
        # BEGIN, the locks, one statement per kind, COMMIT: not ten jobs' worth of them
        assert len(statements) <= 6, statements
        await store.close()

    asyncio.run(body())


def test_a_send_that_needs_more_locks_waits_alone_with_its_senders_later_sends(
    pg_backend: Backend,
) -> None:
    """A node that has not seen a group's members sends to it without their keys:
    hubbub_append answers needs_locks and writes nothing, the sender's later sends of the
    batch are answered 'deferred', and those jobs run in the next batch, in their order,
    with the keys; the rest of the batch commits as it was (no batch-wide redo)."""

    async def body() -> None:
        one = await pg_backend.open(1)
        two = await pg_backend.open(2)
        assert isinstance(two, PostgresStore)
        alice, bob, carol = await _users(one, "alice", "bob", "carol")
        group = await one.create_group(alice.user_id, "g", [u.user_id for u in (alice, bob, carol)])
        gid = group.conversation_id
        warm = await _send(two, bob, "warm", carol)  # acked below
        carol_head = await two.inbox_head(carol.user_id)
        bob_head = await two.inbox_head(bob.user_id)
        with _writer_statements(two) as statements:
            done = await asyncio.gather(
                *(
                    two.append_message(alice.user_id, f"g{i}", f"m{i}", to_user=None,
                                       conversation_id=gid)
                    for i in range(3)
                ),
                two.append_message(bob.user_id, "direct", "hi", to_user=carol.user_id,
                                   conversation_id=None),
                two.ack(carol.user_id, 0, carol_head),
            )  # fmt: skip
        to_group, direct, receipts = done[:3], done[3], done[4]
        assert all(isinstance(m, StoredMessage) for m in (*to_group, direct)), done
        assert [m.message.body for m in to_group] == ["m0", "m1", "m2"]
        ids = [m.message_id for m in to_group]
        assert ids == sorted(ids)  # queue order is commit order, deferral or not
        # bob's direct send, queued after them, committed in the first batch: before them
        assert direct.inbox[bob.user_id] == bob_head + 1
        assert direct.inbox[carol.user_id] == carol_head + 1
        assert [m.inbox[bob.user_id] for m in to_group] == [bob_head + i for i in (2, 3, 4)]
        assert {u for m in to_group for u in m.inbox} == {alice.user_id, bob.user_id, carol.user_id}
        assert warm in {int(r.message_id) for r in receipts}
        assert not [q for q in statements if "SAVEPOINT" in q], statements  # no redo
        assert sum(q.startswith("COMMIT") for q in statements) == 2  # the batch, the retry
        history = await one.history(gid, None, 10, 0)
        assert [m.body for m in history] == ["m2", "m1", "m0"]
        await one.close()
        await two.close()

    asyncio.run(body())


def test_crossing_writes_of_two_nodes_neither_fail_nor_leave_gaps(pg_backend: Backend) -> None:
    """Batches of two nodes write users' rows in crossing orders; each batch locks its
    keys in one global order first, so none waits in a cycle and none is retried."""

    async def body() -> None:
        one = await pg_backend.open(1)
        two = await pg_backend.open(2)
        users = await _users(one, *(f"u{i}" for i in range(8)))
        rnd = random.Random(1)
        pairs = [rnd.sample(users, 2) for _ in range(1000)]
        results = await asyncio.gather(
            *(
                (one if i % 2 else two).append_message(
                    a.user_id, f"k{i}", "x", to_user=b.user_id, conversation_id=None
                )
                for i, (a, b) in enumerate(pairs)
            )
        )
        for user in users:
            seqs = sorted(r.inbox[user.user_id] for r in results if user.user_id in r.inbox)
            assert seqs == list(range(1, len(seqs) + 1))
            assert await two.inbox_head(user.user_id) == len(seqs)
        assert pg_backend.retries == 0
        await one.close()
        await two.close()

    asyncio.run(body())


def test_a_node_whose_view_of_a_group_is_stale_still_delivers_to_every_member(
    pg_backend: Backend,
) -> None:
    """Node one last saw the group with two members; node two adds a third. Node one's
    next send names the old members' locks, learns of the new one under them, and runs
    again with its lock too: the new member gets the message, nothing waits or loops,
    and the sender's messages keep their order."""

    async def body() -> None:
        one, two = await pg_backend.open(1), await pg_backend.open(2)
        alice, bob, carol = await _users(one, "alice", "bob", "carol")
        group = await one.create_group(alice.user_id, "g", [alice.user_id, bob.user_id])
        gid = group.conversation_id
        first = await one.append_message(
            alice.user_id, "m1", "x", to_user=None, conversation_id=gid
        )
        await two.add_member(gid, alice.user_id, carol.user_id, 10)
        later = await asyncio.wait_for(
            asyncio.gather(
                *(
                    one.append_message(
                        alice.user_id, f"m{i}", "x", to_user=None, conversation_id=gid
                    )
                    for i in range(2, 6)
                )
            ),
            30,
        )
        assert all(carol.user_id in s.inbox for s in later)
        assert carol.user_id not in first.inbox
        ids = [first.message_id, *(s.message_id for s in later)]
        assert ids == sorted(ids)  # in the order they were sent
        assert pg_backend.retries == 0
        await one.close()
        await two.close()

    asyncio.run(body())


def test_users_by_ids_finds_those_that_exist(backend: Backend) -> None:
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            found = await store.users_by_ids([bob.user_id, 12345, ann.user_id])
            assert sorted(u.username for u in found) == ["ann", "bob"]
            assert await store.users_by_ids([]) == []
        finally:
            await store.close()

    asyncio.run(body())


def test_search_users_by_prefix_of_username_or_folded_display_name(
    backend: Backend,
) -> None:
    async def body() -> None:
        store = await backend.open()
        try:
            for username, display in (("otto", "Ötzi Straße"), ("zoe_1", "Zoë"),
                                      ("zoe.2", "Anna"), ("bob", "100% Bob")):  # fmt: skip
                await store.create_user(username, "h", display)
            names = lambda found: sorted(u.username for u in found)  # noqa: E731
            assert names(await store.search_users("zoe", 10)) == ["zoe.2", "zoe_1"]
            assert names(await store.search_users("ötzi stras", 10)) == ["otto"]  # casefold
            assert names(await store.search_users("zoë", 10)) == ["zoe_1"]
            assert names(await store.search_users("zoe_", 10)) == ["zoe_1"]  # _ is no wildcard
            assert names(await store.search_users("100%", 10)) == ["bob"]  # nor is %
            assert names(await store.search_users("%", 10)) == []
            assert len(await store.search_users("zoe", 1)) == 1
            user = await store.user_by_name("bob")
            assert user is not None
            await store.update_profile(user.user_id, "Ärger", None, set_retention=False)
            assert names(await store.search_users("ärg", 10)) == ["bob"]
            assert names(await store.search_users("100", 10)) == []
        finally:
            await store.close()

    asyncio.run(body())
