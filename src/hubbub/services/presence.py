"""Presence: the node's live view (core.presence rules) plus fan-out to watchers and
"last seen" kept in the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hubbub.core import frames
from hubbub.core.presence import PresenceTracker, Transition
from hubbub.ports import Bus, Store

log = logging.getLogger("hubbub.presence")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Presence:
    def __init__(self, store: Store, bus: Bus, timeout_s: float) -> None:
        self.store = store
        self.bus = bus
        self.timeout_s = timeout_s
        self.tracker = PresenceTracker(int(timeout_s * 1000))
        # one worker announces transitions in order, so online/offline never swap
        self._announcements: asyncio.Queue[Transition] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def heartbeat_interval(self) -> float:
        """How often clients should ping: three beats fit in one timeout."""
        return round(self.timeout_s / 3, 3)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._expire_loop(), name="presence-expiry"),
            asyncio.create_task(self._announce_loop(), name="presence-announce"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def connected(self, user_id: int) -> None:
        self._announce(self.tracker.connected(user_id, _now_ms()))

    def activity(self, user_id: int) -> None:
        self._announce(self.tracker.activity(user_id, _now_ms()))

    def disconnected(self, user_id: int, *, logged_out: bool) -> None:
        self._announce(self.tracker.disconnected(user_id, logged_out=logged_out))

    async def status(self, user_id: int) -> tuple[bool, int]:
        known = self.tracker.status(user_id)
        if known is not None and (known[0] or known[1]):
            return known
        return False, await self.store.last_active(user_id)

    def _announce(self, change: Transition | None) -> None:
        if change is not None:
            self._announcements.put_nowait(change)

    async def _expire_loop(self) -> None:
        tick = min(max(self.timeout_s / 8, 0.05), 1.0)
        while True:
            await asyncio.sleep(tick)
            for change in self.tracker.expire(_now_ms()):
                self._announce(change)

    async def _announce_loop(self) -> None:
        while True:
            change = await self._announcements.get()
            try:
                await self.store.set_last_active(change.user_id, change.last_active_at)
                frame = frames.presence_frame(change.user_id, change.online, change.last_active_at)
                for watcher in await self.store.watchers(change.user_id):
                    self.bus.publish(watcher, frame)
            except Exception:
                log.exception("could not announce presence of user %s", change.user_id)
