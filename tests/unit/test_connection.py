"""DeviceConnection: catch-up ordering, gaps, writing through an Outlet, flow control.

The connection writes each frame straight to its Outlet unless the transport paused
writing; a RecordingOutlet stands in for the socket. pytest-asyncio is not installed:
tests that await `drained()` run their body with asyncio.run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.core.model import Device
from hubbub.gateway.connection import CLOSE_TOO_SLOW, DeviceConnection

DEVICE = Device(device_id=11, user_id=7, name="laptop")


class RecordingOutlet:
    """Records what was written and closed; `on_send` lets a test act from inside a write
    (as a transport does when a write fills its buffer and it calls pause_writing)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closes: list[tuple[int, str]] = []
        self.on_send: Callable[[bytes], None] | None = None

    def write(self, frame: bytes) -> None:
        self.sent.append(frame)
        if self.on_send is not None:
            self.on_send(frame)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


def entry(seq: int) -> bytes:
    return b"m%d" % seq


def seqs(frames: list[bytes]) -> list[int]:
    return [int(f[1:]) for f in frames]


def make(
    since: int = 0, max_queued_bytes: int = 8 << 20
) -> tuple[DeviceConnection, RecordingOutlet, list[DeviceConnection]]:
    outlet = RecordingOutlet()
    gaps: list[DeviceConnection] = []
    conn = DeviceConnection(
        DEVICE, since, outlet, on_gap=gaps.append, max_queued_bytes=max_queued_bytes
    )
    return conn, outlet, gaps


def test_initial_state() -> None:
    conn, outlet, gaps = make(since=5)
    assert conn.user_id == 7
    assert conn.device_id == 11
    assert conn.last_seq == 5
    assert conn.catching_up
    assert conn.close_request is None
    assert conn.queued_bytes == 0
    assert outlet.sent == []
    assert outlet.closes == []
    assert gaps == []


# -- catch-up and gaps ----------------------------------------------------------------------


def test_live_entries_held_while_catching_up() -> None:
    conn, outlet, gaps = make()
    conn.push_entry(1, entry(1))
    conn.push_entry(2, entry(2))
    assert conn.last_seq == 0
    assert gaps == []
    assert outlet.sent == []
    conn.push(b"x")  # non-inbox frames are not held
    assert outlet.sent == [b"x"]


def test_replay_then_finish_releases_held_after_replayed_skipping_duplicates() -> None:
    conn, outlet, gaps = make(since=2)
    # live traffic overlapping with what the replay will read, out of order
    for seq in (6, 4, 5, 7, 5):
        conn.push_entry(seq, entry(seq))
    for seq in (2, 3, 4, 5):  # replay from the store (2 is at/below since)
        conn.replay(seq, entry(seq))
    assert seqs(outlet.sent) == [3, 4, 5]  # the replay is written as it is read
    assert conn.finish_catch_up() is True
    assert not conn.catching_up
    assert conn.last_seq == 7
    assert seqs(outlet.sent) == [3, 4, 5, 6, 7]
    assert gaps == []
    # after catch-up, live entries flow straight through
    conn.push_entry(8, entry(8))
    conn.push_entry(8, entry(8))  # a duplicate is dropped
    conn.push_entry(3, entry(3))
    assert seqs(outlet.sent) == [3, 4, 5, 6, 7, 8]
    assert not conn.catching_up  # an old seq is no gap
    assert gaps == []


def test_held_entries_past_the_replay_are_released_in_seq_order() -> None:
    conn, outlet, gaps = make()
    for seq in (5, 3, 4):  # held out of order, none covered by the replay
        conn.push_entry(seq, entry(seq))
    conn.replay(1, entry(1))
    conn.replay(2, entry(2))
    assert conn.finish_catch_up() is True
    assert seqs(outlet.sent) == [1, 2, 3, 4, 5]
    assert gaps == []


def test_finish_with_nothing_held() -> None:
    conn, outlet, _ = make(since=0)
    conn.replay(1, entry(1))
    assert conn.finish_catch_up() is True
    assert not conn.catching_up
    assert seqs(outlet.sent) == [1]


def test_finish_refuses_when_held_entries_do_not_follow_the_replay() -> None:
    conn, outlet, _ = make()
    conn.push_entry(5, entry(5))
    conn.push_entry(6, entry(6))
    conn.replay(1, entry(1))
    conn.replay(2, entry(2))
    assert conn.finish_catch_up() is False  # 3 and 4 are missing
    assert conn.catching_up
    assert conn.last_seq == 2
    assert seqs(outlet.sent) == [1, 2]  # nothing held was released
    conn.push_entry(7, entry(7))  # still held
    assert seqs(outlet.sent) == [1, 2]
    conn.replay(3, entry(3))
    conn.replay(4, entry(4))
    assert conn.finish_catch_up() is True
    assert seqs(outlet.sent) == [1, 2, 3, 4, 5, 6, 7]


def test_gap_in_live_entries_triggers_on_gap_and_catching_up() -> None:
    conn, outlet, gaps = make()
    assert conn.finish_catch_up() is True
    conn.push_entry(1, entry(1))
    assert gaps == []
    conn.push_entry(3, entry(3))  # 2 was never seen live
    assert gaps == [conn]
    assert conn.catching_up
    assert conn.last_seq == 1
    conn.push_entry(4, entry(4))  # held, and no second on_gap
    assert gaps == [conn]
    assert seqs(outlet.sent) == [1]
    conn.replay(2, entry(2))
    conn.replay(3, entry(3))
    assert conn.finish_catch_up() is True
    assert seqs(outlet.sent) == [1, 2, 3, 4]
    assert conn.last_seq == 4


# -- closing -----------------------------------------------------------------------------


def test_push_after_request_close_is_dropped() -> None:
    conn, outlet, _ = make()
    conn.push(b"before")
    conn.request_close(4001, "logged out")
    conn.push(b"dropped")
    assert conn.close_request == (4001, "logged out")
    assert outlet.sent == [b"before"]
    assert outlet.closes == [(4001, "logged out")]


def test_first_close_request_wins() -> None:
    conn, outlet, _ = make()
    conn.request_close(4001, "first")
    conn.request_close(4008, "second")
    assert conn.close_request == (4001, "first")
    assert outlet.closes == [(4001, "first")]


def test_exceeding_max_queued_bytes_closes_with_4008() -> None:
    conn, outlet, _ = make(max_queued_bytes=10)
    conn.pause()
    conn.push(b"x" * 6)
    conn.push(b"y" * 4)  # exactly at the limit: fine
    assert conn.close_request is None
    assert conn.queued_bytes == 10
    conn.push(b"z")
    assert conn.close_request is not None
    assert conn.close_request[0] == CLOSE_TOO_SLOW == 4008
    assert [code for code, _ in outlet.closes] == [4008]
    assert conn.queued_bytes == 0  # the queue is dropped
    conn.resume()
    assert outlet.sent == []


def test_frames_written_directly_do_not_count_against_the_limit() -> None:
    conn, outlet, _ = make(max_queued_bytes=10)
    for _ in range(5):
        conn.push(b"x" * 8)
    assert conn.close_request is None
    assert conn.queued_bytes == 0
    assert outlet.sent == [b"x" * 8] * 5


def test_resume_frees_the_queue_budget() -> None:
    conn, outlet, _ = make(max_queued_bytes=10)
    conn.pause()
    conn.push(b"x" * 8)
    conn.resume()
    conn.pause()
    conn.push(b"y" * 8)
    assert conn.close_request is None
    assert conn.queued_bytes == 8
    conn.resume()
    assert outlet.sent == [b"x" * 8, b"y" * 8]
    assert outlet.closes == []


def test_replay_overflow_while_paused_closes_too_slow() -> None:
    conn, outlet, _ = make(max_queued_bytes=5)
    conn.pause()
    for seq in range(1, 5):
        conn.replay(seq, entry(seq) + b"....")
    assert conn.close_request is not None
    assert conn.close_request[0] == CLOSE_TOO_SLOW
    assert len(outlet.closes) == 1
    assert outlet.sent == []


# -- pause and resume --------------------------------------------------------------------


def test_frames_queue_while_paused_and_go_out_in_order_on_resume() -> None:
    conn, outlet, _ = make()
    conn.push(b"a")
    conn.pause()
    frames = [b"b", b"cc", b"ddd"]
    for f in frames:
        conn.push(f)
    assert outlet.sent == [b"a"]
    assert conn.queued_bytes == 6
    conn.resume()
    assert outlet.sent == [b"a", *frames]
    assert conn.queued_bytes == 0
    conn.push(b"e")  # resumed: straight through again
    assert outlet.sent == [b"a", *frames, b"e"]


def test_push_behind_a_non_empty_queue_keeps_order_even_when_not_paused() -> None:
    conn, outlet, _ = make()
    conn.pause()
    conn.push(b"a")
    conn.push(b"b")

    def push_from_inside_the_flush(frame: bytes) -> None:
        if frame == b"a":  # not paused any more, but b is still queued
            conn.push(b"c")

    outlet.on_send = push_from_inside_the_flush
    conn.resume()
    assert outlet.sent == [b"a", b"b", b"c"]
    assert conn.queued_bytes == 0


def test_resume_that_pauses_again_mid_flush_keeps_the_rest() -> None:
    conn, outlet, _ = make()
    conn.pause()
    for f in (b"a", b"bb", b"ccc", b"dddd"):
        conn.push(f)

    def pause_after_b(frame: bytes) -> None:
        if frame == b"bb":
            conn.pause()

    outlet.on_send = pause_after_b
    conn.resume()
    assert outlet.sent == [b"a", b"bb"]
    assert conn.queued_bytes == 7
    conn.push(b"e")  # paused again: queues behind the rest
    assert outlet.sent == [b"a", b"bb"]
    outlet.on_send = None
    conn.resume()
    assert outlet.sent == [b"a", b"bb", b"ccc", b"dddd", b"e"]
    assert conn.queued_bytes == 0


def test_close_while_paused_drops_the_queue_and_closes_once() -> None:
    conn, outlet, _ = make()
    conn.pause()
    conn.push(b"a")
    conn.push(b"b")
    conn.request_close(1000, "bye")
    assert conn.queued_bytes == 0
    assert outlet.closes == [(1000, "bye")]
    conn.request_close(4008, "again")
    conn.resume()
    assert outlet.sent == []
    assert outlet.closes == [(1000, "bye")]


# -- drained -----------------------------------------------------------------------------


def test_drained_returns_at_once_when_idle() -> None:
    async def body() -> None:
        conn, outlet, _ = make()
        conn.push(b"a")  # written directly: nothing queued
        waiter = asyncio.ensure_future(conn.drained())
        await asyncio.sleep(0)  # one yield, no delay
        assert waiter.done()
        assert outlet.sent == [b"a"]

    asyncio.run(body())


def test_drained_waits_while_paused_and_completes_on_resume() -> None:
    async def body() -> None:
        conn, outlet, _ = make()
        conn.pause()
        conn.push(b"a")
        waiter = asyncio.ensure_future(conn.drained())
        other = asyncio.ensure_future(conn.drained())  # every waiter is woken
        for _ in range(3):
            await asyncio.sleep(0)
        assert not waiter.done()
        assert not other.done()
        conn.resume()
        await asyncio.wait_for(asyncio.gather(waiter, other), 1)
        assert outlet.sent == [b"a"]

    asyncio.run(body())


def test_drained_waits_while_paused_with_nothing_queued() -> None:
    async def body() -> None:
        conn, _, _ = make()
        conn.pause()
        waiter = asyncio.ensure_future(conn.drained())
        await asyncio.sleep(0)
        assert not waiter.done()
        conn.resume()
        await asyncio.wait_for(waiter, 1)

    asyncio.run(body())


def test_drained_keeps_waiting_when_resume_pauses_with_frames_left() -> None:
    async def body() -> None:
        conn, outlet, _ = make()
        conn.pause()
        conn.push(b"a")
        conn.push(b"b")
        waiter = asyncio.ensure_future(conn.drained())
        await asyncio.sleep(0)
        outlet.on_send = lambda frame: conn.pause()
        conn.resume()  # writes a, then the transport pauses again
        await asyncio.sleep(0)
        assert not waiter.done()
        outlet.on_send = None
        conn.resume()
        await asyncio.wait_for(waiter, 1)
        assert outlet.sent == [b"a", b"b"]

    asyncio.run(body())


def test_drained_keeps_waiting_when_the_last_write_of_a_flush_pauses_again() -> None:
    async def body() -> None:
        conn, outlet, _ = make()
        conn.pause()
        conn.push(b"a")
        waiter = asyncio.ensure_future(conn.drained())
        await asyncio.sleep(0)
        outlet.on_send = lambda frame: conn.pause()
        conn.resume()  # writes a (the last queued frame); that write pauses again
        await asyncio.sleep(0)
        assert not waiter.done()  # still paused: a fresh drained() would wait too
        waiter.cancel()

    asyncio.run(body())


def test_drained_completes_on_close() -> None:
    async def body() -> None:
        conn, _, _ = make()
        conn.pause()
        conn.push(b"a")
        waiter = asyncio.ensure_future(conn.drained())
        await asyncio.sleep(0)
        assert not waiter.done()
        conn.request_close(1000, "bye")
        await asyncio.wait_for(waiter, 1)
        await asyncio.wait_for(conn.drained(), 1)  # closed while still paused: at once

    asyncio.run(body())


# -- property: replay + live traffic give each seq once, in order -------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.booleans()),  # True: delivered live as well
        st.tuples(st.just("replay_one"), st.just(False)),
        st.tuples(st.just("finish"), st.just(False)),
        st.tuples(st.just("pause"), st.just(False)),
        st.tuples(st.just("resume"), st.just(False)),
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=5), ops)
def test_each_seq_once_and_in_order(
    head0: int, since_back: int, steps: list[tuple[str, bool]]
) -> None:
    head = head0
    since = max(head0 - since_back, 0)
    conn, outlet, gaps = make(since=since)
    delivered_live: list[int] = []

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
        elif op == "pause":
            conn.pause()
        elif op == "resume":
            conn.resume()
        sent = seqs(outlet.sent)
        assert sent == sorted(set(sent))  # never out of order or twice, at any moment
    catch_up_fully()
    conn.resume()

    assert conn.close_request is None
    assert conn.queued_bytes == 0
    assert seqs(outlet.sent) == list(range(since + 1, conn.last_seq + 1))
    if delivered_live:
        assert conn.last_seq >= delivered_live[-1]
    assert all(g is conn for g in gaps)
