"""The PushStore port's guarantees, on SQLite and PostgreSQL (real engines): the outbox
is written in the message's commit and only for recipients with subscriptions (never the
sender), collapses per conversation, claims are exclusive and leased, logout removes a
device's subscriptions, a `read` job follows a shown push, one VAPID pair per database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from hubbub.core.clock import now_ms
from hubbub.core.model import User
from hubbub.core.push import Subscription
from tests.contract.test_store_contract import (
    AnyStore,
    Backend,
    _users,
    backend,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.timeout(60)


async def _device(store: AnyStore, user: User, name: str = "d") -> int:
    device, _ = await store.create_device(user.user_id, name, f"{user.user_id}{name}".encode(), 9)
    return device.device_id


async def _subscribe(store: AnyStore, user: User, device_id: int, sid: int) -> Subscription:
    sub = Subscription(sid, user.user_id, device_id, "webpush", "https://push.example/x",
                       "p", "a", created_at=now_ms())  # fmt: skip
    return await store.push.subscribe(sub)


def test_outbox_only_for_recipients_with_subscriptions(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            sent = await store.append_message(
                ann.user_id, "k0", "hi", to_user=bob.user_id, conversation_id=None
            )
            assert sent.pushes == 0  # nobody subscribed: nothing written
            await _subscribe(store, ann, await _device(store, ann), 1)
            bob_device = await _device(store, bob)
            await _subscribe(store, bob, bob_device, 2)
            sent = await store.append_message(
                ann.user_id, "k1", "hello", to_user=bob.user_id, conversation_id=None
            )
            assert sent.pushes == 1  # bob's device, not the sender's own
            again = await store.append_message(
                ann.user_id, "k2", "again", to_user=bob.user_id, conversation_id=None
            )
            assert again.pushes == 1 and await store.push.depth() == 1  # collapsed
            jobs = await store.push.claim(now_ms(), 30_000, 10)
            assert len(jobs) == 1
            job = jobs[0]
            assert job.subscription.device_id == bob_device and job.kind == "message"
            assert job.message_id == again.message_id and job.body == "again"
            assert job.sender_name == "Ann" and job.unread == 3 and job.preview == "sender"
            assert job.seq == again.inbox[bob.user_id]
            # leased: no second claim gets it
            assert await store.push.claim(now_ms(), 30_000, 10) == []
            # a newer message collapses into the leased row: `done` keeps the new version
            newer = await store.append_message(
                ann.user_id, "k3", "newest", to_user=bob.user_id, conversation_id=None
            )
            await store.push.done(job, shown=True)
            (job2,) = await store.push.claim(now_ms(), 30_000, 10)
            assert job2.message_id == newer.message_id
            await store.push.done(job2, shown=True)
            assert await store.push.depth() == 0
            # reading queues, in the read's own commit, a `read` job for the subscription
            # that was shown one (and only once: what it cleared is forgotten)
            cid = sent.conversation_id
            read = await store.mark_read(bob.user_id, cid, sent.message_id)
            assert read is not None and read.pushes == 1
            (clear,) = await store.push.claim(now_ms(), 30_000, 10)
            assert clear.kind == "read" and clear.message_id == sent.message_id
            await store.push.done(clear, shown=False)
            again_read = await store.mark_read(bob.user_id, cid, newer.message_id)
            assert again_read is not None and again_read.pushes == 0
            # ann has subscriptions too, but was shown nothing for it
            ann_read = await store.mark_read(ann.user_id, cid, newer.message_id)
            assert ann_read is None or ann_read.pushes == 0
        finally:
            await store.close()

    asyncio.run(body())


def test_lease_expiry_retake_retry_postpone(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            await _subscribe(store, bob, await _device(store, bob), 5)
            await store.append_message(
                ann.user_id, "k", "x", to_user=bob.user_id, conversation_id=None
            )
            now = now_ms()
            (job,) = await store.push.claim(now, 1000, 10)
            assert await store.push.claim(now + 500, 1000, 10) == []
            (taken,) = await store.push.claim(now + 1500, 1000, 10)  # a dead node's lease
            await store.push.retry(taken, now + 60_000)
            assert await store.push.claim(now + 2000, 1000, 10) == []
            (later,) = await store.push.claim(now + 60_000, 1000, 10)
            assert later.attempts == 1
            await store.push.postpone(later, now + 70_000)
            (last,) = await store.push.claim(now + 70_000, 1000, 10)
            assert last.attempts == 1 and job.version == last.version
        finally:
            await store.close()

    asyncio.run(body())


def test_one_subscription_per_device_and_kind_and_logout_removes(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            device = await _device(store, bob)
            await _subscribe(store, bob, device, 10)
            await _subscribe(store, bob, device, 11)
            assert [s.subscription_id for s in await store.push.subscriptions(bob.user_id)] == [11]
            assert not await store.push.unsubscribe(ann.user_id, 11)  # someone else's
            await store.append_message(
                ann.user_id, "k", "x", to_user=bob.user_id, conversation_id=None
            )
            await store.revoke_device(bob.user_id, device)
            assert await store.push.subscriptions(bob.user_id) == []
            assert await store.push.depth() == 0
        finally:
            await store.close()

    asyncio.run(body())


def test_settings_mute_and_one_vapid_pair(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        other = await backend.open(node_id=2) if backend.kind == "postgres" else None
        try:
            ann, bob = await _users(store, "ann", "bob")
            assert await store.push.preview(ann.user_id) == "sender"
            await store.push.set_preview(ann.user_id, "full")
            assert await store.push.preview(ann.user_id) == "full"
            conv = await store.direct_conversation(ann.user_id, bob.user_id)
            assert await store.push.set_muted(ann.user_id, conv.conversation_id, -1)
            assert await store.push.muted_until(ann.user_id, conv.conversation_id) == -1
            # the conversation list carries each member's own mute
            (mine,) = await store.conversations(ann.user_id)
            (theirs,) = await store.conversations(bob.user_id)
            assert (mine.muted_until, theirs.muted_until) == (-1, 0)
            assert not await store.push.set_muted(ann.user_id, 12345, -1)
            assert await store.push.muted_until(ann.user_id, 12345) is None
            pairs = [store.push.vapid_keys("priv1", "pub1")]
            if other is not None:
                pairs.append(other.push.vapid_keys("priv2", "pub2"))
            got = await asyncio.gather(*pairs)
            assert len(set(got)) == 1
            assert await store.push.vapid_keys("priv3", "pub3") == got[0]
        finally:
            await store.close()
            if other is not None:
                await other.close()

    asyncio.run(body())


def test_two_nodes_claim_each_job_once(backend: Backend) -> None:  # noqa: F811
    if backend.kind != "postgres":
        pytest.skip("several nodes on one database: PostgreSQL only")

    async def body() -> None:
        one, two = await backend.open(1), await backend.open(2)
        try:
            ann, *others = await _users(one, "ann", *(f"user{i}" for i in range(20)))
            for i, user in enumerate(others):
                await _subscribe(one, user, await _device(one, user), 100 + i)
                await one.append_message(
                    ann.user_id, f"k{i}", "x", to_user=user.user_id, conversation_id=None
                )
            claimed: list[int] = []

            async def drain(store: AnyStore) -> None:
                while True:
                    jobs = await store.push.claim(now_ms(), 30_000, 3)
                    if not jobs:
                        return
                    claimed.extend(j.subscription.subscription_id for j in jobs)
                    for j in jobs:
                        await store.push.done(j, shown=True)

            await asyncio.gather(drain(one), drain(two), drain(one), drain(two))
            assert sorted(claimed) == list(range(100, 120))
        finally:
            await one.close()
            await two.close()

    asyncio.run(body())


def test_a_member_who_left_counts_as_muted(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            await _subscribe(store, bob, await _device(store, bob), 7)
            group = await store.create_group(ann.user_id, "g", [ann.user_id, bob.user_id])
            sent = await store.append_message(
                ann.user_id, "k", "x", to_user=None, conversation_id=group.conversation_id
            )
            assert sent.pushes == 1
            await store.remove_member(group.conversation_id, bob.user_id, bob.user_id)
            (job,) = await store.push.claim(now_ms(), 30_000, 10)
            assert job.muted_until == -1 and job.conversation_kind == "group"
        finally:
            await store.close()

    asyncio.run(body())


def test_a_collapse_committed_while_done_waits_is_freed(backend: Backend) -> None:  # noqa: F811
    """A newer message collapses into a leased row and commits while `done` for the old
    version waits on that row's lock: the newer version must be claimable at once, not
    stranded under the old lease (one statement's snapshot would miss the new version)."""
    if backend.kind != "postgres":
        pytest.skip("row locks across connections: PostgreSQL only (SQLite has one writer)")

    async def body() -> None:
        store = await backend.open()
        collapse = await asyncpg.connect(backend.dsn)
        try:
            ann, bob = await _users(store, "ann", "bob")
            await _subscribe(store, bob, await _device(store, bob), 7)
            await store.append_message(
                ann.user_id, "k1", "one", to_user=bob.user_id, conversation_id=None
            )
            (job,) = await store.push.claim(now_ms(), 60_000, 10)
            # what hubbub_append's upsert does to a leased row, held open mid-transaction
            held = collapse.transaction()
            await held.start()
            await collapse.execute(
                "UPDATE push_outbox SET version = version + 1, seq = seq + 1"
                " WHERE subscription_id = 7"
            )
            finishing = asyncio.create_task(store.push.done(job, shown=True))
            # polled: another connection's lock wait has no event to await
            while not await store.engine.read(  # noqa: ASYNC110
                lambda c: c.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%push_outbox%'"
                )
            ):
                await asyncio.sleep(0.01)  # until `done` waits on the row lock
            await held.commit()
            await asyncio.wait_for(finishing, 10)
            (newer,) = await store.push.claim(now_ms(), 60_000, 10)
            assert newer.version == job.version + 1 and newer.seq == job.seq + 1
        finally:
            await collapse.close()
            await store.close()

    asyncio.run(body())
