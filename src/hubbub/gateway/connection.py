"""One device's connection state, without I/O: what it has been sent, what waits to be
written, and whether it is still catching up from the store.

Inbox order: every `message` frame carries the entry's `seq`, and a connection sends
each seq at most once and in ascending order. While it catches up (replay from the
store after `hello`), live entries are held in `_pending` and released when the replay
reaches them, so the replay and live traffic never interleave out of order or twice.

Writing: frames go straight to the `Outlet` (a synchronous, buffered socket write) while
the socket accepts them; when the transport says its buffer is full (`pause`), frames wait
in a queue bounded by bytes, and a device that lets it overflow is closed with 4008 (it
resumes with `since`). No task per connection: an idle device costs a few small objects.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol

from hubbub.core.model import Device

CLOSE_TOO_SLOW = 4008  # the outgoing queue overflowed: resume with `since`


class Outlet(Protocol):
    """The socket side of a connection (gateway/picows_gateway.py implements it)."""

    def write(self, frame: bytes) -> None:
        """Write one text frame now (buffered by the transport; never blocks)."""

    def close(self, code: int, reason: str) -> None:
        """Send a close frame and drop the connection."""

    def pause_reading(self) -> None:
        """Stop reading the socket (TCP then pushes back on the client)."""

    def resume_reading(self) -> None: ...


class DeviceConnection:
    # slots and lazily made containers: 100,000 idle connections are 100,000 of these
    __slots__ = (
        "_drained",
        "_max_queued_bytes",
        "_on_gap",
        "_outlet",
        "_paused",
        "_pending",
        "_queue",
        "_queued_bytes",
        "catching_up",
        "close_request",
        "device",
        "device_id",
        "last_seq",
        "user_id",
    )

    def __init__(
        self,
        device: Device,
        since: int,
        outlet: Outlet,
        *,
        on_gap: Callable[[DeviceConnection], None],
        max_queued_bytes: int = 8 << 20,
    ) -> None:
        self.device = device
        self.user_id = device.user_id
        self.device_id = device.device_id
        self.last_seq = since  # highest inbox seq this connection has been given
        self.catching_up = True
        self.close_request: tuple[int, str] | None = None
        self._outlet = outlet
        self._pending: list[tuple[int, bytes]] = []
        self._on_gap = on_gap
        self._queue: deque[bytes] | None = None  # made when the socket first pushes back
        self._queued_bytes = 0
        self._max_queued_bytes = max_queued_bytes
        self._paused = False
        self._drained: asyncio.Event | None = None  # made only when someone waits

    # -- frames in ---------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        """A frame outside the inbox (sent, receipt, presence, typing, pong, error)."""
        if self.close_request is not None:
            return
        if not self._paused and not self._queue:
            self._outlet.write(frame)
            return
        if self._queue is None:
            self._queue = deque()
        self._queue.append(frame)
        self._queued_bytes += len(frame)
        if self._queued_bytes > self._max_queued_bytes:
            self.request_close(CLOSE_TOO_SLOW, "too slow: reconnect and resume with since")

    def push_entry(self, seq: int, frame: bytes) -> None:
        """A live inbox entry, in commit order."""
        if self.catching_up:
            self._pending.append((seq, frame))
        elif seq <= self.last_seq:
            return  # already given (replay overlap)
        elif seq == self.last_seq + 1:
            self.last_seq = seq
            self.push(frame)
        else:  # something between was not seen live: fetch it from the store first
            self.catching_up = True
            self._pending.append((seq, frame))
            self._on_gap(self)

    def replay(self, seq: int, frame: bytes) -> None:
        """An entry read from the store during catch-up (ascending)."""
        if seq > self.last_seq:
            self.last_seq = seq
            self.push(frame)

    def finish_catch_up(self) -> bool:
        """Release held live entries. False if they do not follow on from the replay
        (then the caller reads the store once more)."""
        pending, self._pending = self._pending, []
        pending.sort()
        for i, (seq, frame) in enumerate(pending):
            if seq <= self.last_seq:
                continue
            if seq != self.last_seq + 1:
                self._pending = pending[i:]
                return False
            self.last_seq = seq
            self.push(frame)
        self.catching_up = False
        return True

    def request_close(self, code: int, reason: str) -> None:
        """Close once: what is queued behind a full socket is dropped (the device
        resumes from its last seq)."""
        if self.close_request is not None:
            return
        self.close_request = (code, reason)
        self._queue = None
        self._queued_bytes = 0
        self._wake_drained()
        self._outlet.close(code, reason)

    # -- flow control from the transport --------------------------------------------------

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        while self._queue and not self._paused:
            frame = self._queue.popleft()
            self._queued_bytes -= len(frame)
            self._outlet.write(frame)
        if not self._queue and not self._paused:  # that last send may have paused us again
            self._wake_drained()

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    async def drained(self) -> None:
        """Wait until the socket has taken everything queued (replay paces itself)."""
        if self.close_request is not None or (not self._paused and not self._queue):
            return
        if self._drained is None:
            self._drained = asyncio.Event()
        await self._drained.wait()

    def _wake_drained(self) -> None:
        if self._drained is not None:
            self._drained.set()
            self._drained = None
