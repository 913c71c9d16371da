"""DeviceConnection: catch-up ordering, gaps, the outgoing queue and its limits.

pytest-asyncio is not installed: each test runs its body with asyncio.run, since the
connection makes asyncio.Events and `take` is a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.core.model import Device
from hubbub.gateway.connection import CLOSE_TOO_SLOW, DeviceConnection

DEVICE = Device(device_id=11, user_id=7, name="laptop")


def run(coro_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coro_fn())


def entry(seq: int) -> bytes:
    return b"m%d" % seq


def seqs(batch: list[bytes] | None) -> list[int]:
    assert batch is not None
    return [int(f[1:]) for f in batch]


def make(
    since: int = 0, max_queued_bytes: int = 8 << 20
) -> tuple[DeviceConnection, list[DeviceConnection]]:
    gaps: list[DeviceConnection] = []
    conn = DeviceConnection(DEVICE, since, on_gap=gaps.append, max_queued_bytes=max_queued_bytes)
    return conn, gaps


def test_initial_state() -> None:
    async def body() -> None:
        conn, gaps = make(since=5)
        assert conn.user_id == 7
        assert conn.device_id == 11
        assert conn.last_seq == 5
        assert conn.catching_up
        assert conn.close_request is None
        assert gaps == []

    run(body)


def test_live_entries_held_while_catching_up() -> None:
    async def body() -> None:
        conn, gaps = make()
        conn.push_entry(1, entry(1))
        conn.push_entry(2, entry(2))
        assert conn.last_seq == 0
        assert gaps == []
        conn.push(b"x")  # non-inbox frames are not held
        assert await conn.take() == [b"x"]

    run(body)


def test_replay_then_finish_releases_held_after_replayed_skipping_duplicates() -> None:
    async def body() -> None:
        conn, gaps = make(since=2)
        # live traffic overlapping with what the replay will read, out of order
        for seq in (6, 4, 5, 7, 5):
            conn.push_entry(seq, entry(seq))
        for seq in (2, 3, 4, 5):  # replay from the store (2 is at/below since)
            conn.replay(seq, entry(seq))
        assert conn.finish_catch_up() is True
        assert not conn.catching_up
        assert conn.last_seq == 7
        assert seqs(await conn.take()) == [3, 4, 5, 6, 7]
        assert gaps == []
        # after catch-up, live entries flow straight through
        conn.push_entry(8, entry(8))
        conn.push_entry(8, entry(8))  # a duplicate is dropped
        conn.push_entry(3, entry(3))
        assert seqs(await conn.take()) == [8]
        assert not conn.catching_up  # an old seq is no gap
        assert gaps == []

    run(body)


def test_held_entries_past_the_replay_are_released_in_seq_order() -> None:
    async def body() -> None:
        conn, gaps = make()
        for seq in (5, 3, 4):  # held out of order, none covered by the replay
            conn.push_entry(seq, entry(seq))
        conn.replay(1, entry(1))
        conn.replay(2, entry(2))
        assert conn.finish_catch_up() is True
        assert seqs(await conn.take()) == [1, 2, 3, 4, 5]
        assert gaps == []

    run(body)


def test_finish_with_nothing_held() -> None:
    async def body() -> None:
        conn, _ = make(since=0)
        conn.replay(1, entry(1))
        assert conn.finish_catch_up() is True
        assert not conn.catching_up
        assert seqs(await conn.take()) == [1]

    run(body)


def test_finish_refuses_when_held_entries_do_not_follow_the_replay() -> None:
    async def body() -> None:
        conn, _ = make()
        conn.push_entry(5, entry(5))
        conn.push_entry(6, entry(6))
        conn.replay(1, entry(1))
        conn.replay(2, entry(2))
        assert conn.finish_catch_up() is False  # 3 and 4 are missing
        assert conn.catching_up
        assert conn.last_seq == 2
        conn.push_entry(7, entry(7))  # still held
        conn.replay(3, entry(3))
        conn.replay(4, entry(4))
        assert conn.finish_catch_up() is True
        assert seqs(await conn.take()) == [1, 2, 3, 4, 5, 6, 7]

    run(body)


def test_gap_in_live_entries_triggers_on_gap_and_catching_up() -> None:
    async def body() -> None:
        conn, gaps = make()
        assert conn.finish_catch_up() is True
        conn.push_entry(1, entry(1))
        assert gaps == []
        conn.push_entry(3, entry(3))  # 2 was never seen live
        assert gaps == [conn]
        assert conn.catching_up
        assert conn.last_seq == 1
        conn.push_entry(4, entry(4))  # held, and no second on_gap
        assert gaps == [conn]
        assert seqs(await conn.take()) == [1]
        conn.replay(2, entry(2))
        conn.replay(3, entry(3))
        assert conn.finish_catch_up() is True
        assert seqs(await conn.take()) == [2, 3, 4]
        assert conn.last_seq == 4

    run(body)


def test_take_returns_queued_frames_in_order() -> None:
    async def body() -> None:
        conn, _ = make()
        frames = [b"a", b"bb", b"ccc", b"d"]
        for f in frames:
            conn.push(f)
        assert await conn.take() == frames
        conn.push(b"e")
        assert await conn.take() == [b"e"]

    run(body)


def test_take_waits_for_a_push() -> None:
    async def body() -> None:
        conn, _ = make()
        waiter = asyncio.ensure_future(conn.take())
        await asyncio.sleep(0)  # let take() start waiting (a yield, not a delay)
        assert not waiter.done()
        conn.push(b"late")
        assert await waiter == [b"late"]

    run(body)


def test_take_returns_none_when_close_requested_while_waiting() -> None:
    async def body() -> None:
        conn, _ = make()
        waiter = asyncio.ensure_future(conn.take())
        await asyncio.sleep(0)
        conn.request_close(1000, "bye")
        assert await waiter is None

    run(body)


def test_push_after_request_close_is_dropped() -> None:
    async def body() -> None:
        conn, _ = make()
        conn.request_close(4001, "logged out")
        conn.push(b"dropped")
        assert conn.close_request == (4001, "logged out")
        assert await conn.take() is None

    run(body)


def test_first_close_request_wins() -> None:
    async def body() -> None:
        conn, _ = make()
        conn.request_close(4001, "first")
        conn.request_close(4008, "second")
        assert conn.close_request == (4001, "first")

    run(body)


def test_frames_queued_before_a_normal_close_are_still_taken() -> None:
    async def body() -> None:
        conn, _ = make()
        conn.push(b"last words")
        conn.request_close(1000, "bye")
        conn.push(b"dropped")
        assert await conn.take() == [b"last words"]
        assert await conn.take() is None

    run(body)


def test_exceeding_max_queued_bytes_closes_with_4008() -> None:
    async def body() -> None:
        conn, _ = make(max_queued_bytes=10)
        conn.push(b"x" * 6)
        conn.push(b"y" * 4)  # exactly at the limit: fine
        assert conn.close_request is None
        conn.push(b"z")
        assert conn.close_request is not None
        assert conn.close_request[0] == CLOSE_TOO_SLOW == 4008
        assert await conn.take() is None

    run(body)


def test_taking_frees_the_queue_budget() -> None:
    async def body() -> None:
        conn, _ = make(max_queued_bytes=10)
        conn.push(b"x" * 8)
        assert await conn.take() == [b"x" * 8]
        conn.push(b"y" * 8)
        assert conn.close_request is None
        assert await conn.take() == [b"y" * 8]

    run(body)


def test_replay_overflow_closes_too_slow() -> None:
    async def body() -> None:
        conn, _ = make(max_queued_bytes=5)
        for seq in range(1, 5):
            conn.replay(seq, entry(seq) + b"....")
        assert conn.close_request is not None
        assert conn.close_request[0] == CLOSE_TOO_SLOW
        assert await conn.take() is None

    run(body)


def test_drained_tracks_the_writer() -> None:
    async def body() -> None:
        conn, _ = make()
        await conn.drained()  # nothing queued: returns at once
        conn.push(b"a")
        waiter = asyncio.ensure_future(conn.drained())
        await asyncio.sleep(0)
        assert not waiter.done()
        conn.mark_drained()  # still queued: not drained
        await asyncio.sleep(0)
        assert not waiter.done()
        assert await conn.take() == [b"a"]
        conn.mark_drained()
        await waiter

    run(body)


# -- property: replay + live traffic give each seq once, in order -------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.booleans()),  # True: delivered live as well
        st.tuples(st.just("replay_one"), st.just(False)),
        st.tuples(st.just("finish"), st.just(False)),
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=5), ops)
def test_each_seq_once_and_in_order(
    head0: int, since_back: int, steps: list[tuple[str, bool]]
) -> None:
    async def body() -> None:
        head = head0
        since = max(head0 - since_back, 0)
        conn, gaps = make(since=since)
        delivered_live: list[int] = []
        out: list[int] = []

        def catch_up_fully() -> None:
            while conn.catching_up:
                for seq in range(conn.last_seq + 1, head + 1):
                    conn.replay(seq, entry(seq))
                conn.finish_catch_up()

        for op, live in steps:
            if op == "commit":
                head += 1
                if live:
                    delivered_live.append(head)
                    conn.push_entry(head, entry(head))
            elif op == "replay_one" and conn.catching_up and conn.last_seq < head:
                conn.replay(conn.last_seq + 1, entry(conn.last_seq + 1))
            elif op == "finish" and conn.catching_up:
                conn.finish_catch_up()
            if conn._queue:  # the writer may run at any point
                out.extend(seqs(await conn.take()))
        catch_up_fully()
        if conn._queue:
            out.extend(seqs(await conn.take()))

        assert conn.close_request is None
        assert out == list(range(since + 1, conn.last_seq + 1))
        if delivered_live:
            assert conn.last_seq >= delivered_live[-1]
        assert all(g is conn for g in gaps)

    run(body)
