"""The Store port's guarantees, on a real SQLite database (retention, ids, idempotency).
Written against the port so other adapters can run the same suite."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hubbub.adapters.sqlite import SqliteStore
from hubbub.core.errors import HubbubError
from hubbub.core.ids import IdGenerator

DAY_MS = 86_400_000


async def _store(path: Path) -> SqliteStore:
    store = SqliteStore(path, IdGenerator(1))
    await store.open()
    return store


def test_retention_deletes_expired_entries_and_orphaned_messages(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _store(tmp_path)
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


def test_a_failing_write_in_a_batch_changes_nothing_and_spares_the_rest(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _store(tmp_path)
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
        assert store.engine.stats.max_batch > 1  # the writes were group-committed
        await store.close()

    asyncio.run(body())


def test_close_commits_what_was_accepted(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _store(tmp_path)
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
        reopened = await _store(tmp_path)
        assert await reopened.inbox_head(a.user_id) == 20
        await reopened.close()

    asyncio.run(body())


def test_duplicate_username_is_a_conflict(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _store(tmp_path)
        await store.create_user("alice", "h", "A")
        with pytest.raises(HubbubError) as e:
            await store.create_user("alice", "h", "A")
        assert e.value.code == "conflict"
        await store.close()

    asyncio.run(body())


def test_conversation_list_respects_the_readers_retention(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _store(tmp_path)
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


def test_seq_never_reused_after_purge_and_restart(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _store(tmp_path)
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
        reopened = await _store(tmp_path)  # a cold start: no head is cached
        assert await reopened.inbox_head(b.user_id) == 3
        after = await reopened.append_message(
            a.user_id, "next", "x", to_user=b.user_id, conversation_id=None
        )
        assert after.inbox == {a.user_id: 4, b.user_id: 4}
        await reopened.close()

    asyncio.run(body())
