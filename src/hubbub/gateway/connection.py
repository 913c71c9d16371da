"""One device's connection state, without I/O: what it has been sent, what waits to be
written, and whether it is still catching up from the store.

Inbox order: every `message` frame carries the entry's `seq`, and a connection sends
each seq at most once and in ascending order. While it catches up (replay from the
store after `hello`), live entries are held in `_pending` and released when the replay
reaches them, so the replay and live traffic never interleave out of order or twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from hubbub.core.model import Device

CLOSE_TOO_SLOW = 4008  # the outgoing queue overflowed: resume with `since`


class DeviceConnection:
    def __init__(
        self,
        device: Device,
        since: int,
        *,
        on_gap: Callable[[DeviceConnection], None],
        max_queued_bytes: int = 8 << 20,
    ) -> None:
        self.device = device
        self.user_id = device.user_id
        self.device_id = device.device_id
        self.last_seq = since  # highest inbox seq this connection has been given
        self.catching_up = True
        self._pending: list[tuple[int, bytes]] = []
        self._on_gap = on_gap
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._max_queued_bytes = max_queued_bytes
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.close_request: tuple[int, str] | None = None

    # -- frames in ---------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        """A frame outside the inbox (sent, receipt, presence, typing, pong, error)."""
        if self.close_request is not None:
            return
        self._queue.append(frame)
        self._queued_bytes += len(frame)
        self._drained.clear()
        self._wakeup.set()
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
        if self.close_request is None:
            self.close_request = (code, reason)
            self._wakeup.set()

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    # -- frames out (the socket writer) ---------------------------------------------------

    async def take(self) -> list[bytes] | None:
        """Everything queued, waiting if nothing is; None once a close is requested."""
        while not self._queue:
            if self.close_request is not None:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.close_request is not None and self.close_request[0] == CLOSE_TOO_SLOW:
            return None
        batch = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return batch

    def mark_drained(self) -> None:
        if not self._queue:
            self._drained.set()

    async def drained(self) -> None:
        """Wait until the writer has written everything queued (replay paces itself)."""
        await self._drained.wait()
