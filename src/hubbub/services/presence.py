"""Presence: the node's live view (core.presence rules), the cluster's view (a
PresenceDirectory: this node only on the embedded default, Redis across nodes), fan-out
of each change to the watchers, and "last seen" kept in the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from hubbub.core import frames
from hubbub.core.clock import now_ms
from hubbub.core.presence import PresenceTracker, Transition
from hubbub.ports import Bus, PresenceDirectory, Store

log = logging.getLogger("hubbub.presence")


@dataclass(frozen=True, slots=True)
class DeviceSet:
    """The user's devices with a socket on this node, after a change."""

    user_id: int
    devices: tuple[int, ...]


class Presence:
    def __init__(
        self, store: Store, bus: Bus, timeout_s: float, directory: PresenceDirectory
    ) -> None:
        self.store = store
        self.bus = bus
        self.directory = directory
        self.timeout_s = timeout_s
        self.tracker = PresenceTracker(int(timeout_s * 1000))
        # one worker reports and announces in order, so online/offline never swap;
        # None as the transition means "refresh": the user is still active here
        self._announcements: asyncio.Queue[Transition | DeviceSet] = asyncio.Queue()
        self._refreshed: dict[int, int] = {}  # user -> when the directory last heard
        self._device_sets: dict[int, tuple[int, ...]] = {}  # user -> as last reported
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def heartbeat_interval(self) -> float:
        """How often clients should ping: three beats fit in one timeout."""
        return round(self.timeout_s / 3, 3)

    async def start(self) -> None:
        await self.directory.start()
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
        await self.directory.stop()

    def connected(self, user_id: int) -> None:
        self._announce(self.tracker.connected(user_id, now_ms()))

    def activity(self, user_id: int) -> None:
        now = now_ms()
        change = self.tracker.activity(user_id, now)
        if change is not None:
            self._announce(change)
        elif now - self._refreshed.get(user_id, 0) > self.tracker.timeout_ms // 4:
            # still online here: tell the directory now and then, not on every frame
            self._refreshed[user_id] = now
            self._announcements.put_nowait(Transition(user_id, True, -now))

    def disconnected(self, user_id: int, *, logged_out: bool) -> None:
        self._announce(self.tracker.disconnected(user_id, logged_out=logged_out))

    def devices_changed(self, user_id: int, devices: Collection[int]) -> None:
        """A socket of the user opened or closed here: these devices have one now. The
        directory hears it in order with online/offline (push asks it which devices are
        live on other nodes)."""
        self._announcements.put_nowait(DeviceSet(user_id, tuple(sorted(devices))))

    async def device_live(self, user_id: int, device_id: int) -> bool:
        """Whether another node reports a live socket of the device."""
        return await self.directory.device_live(user_id, device_id)

    async def status(self, user_id: int) -> tuple[bool, int]:
        known = self.tracker.status(user_id)
        if known is not None and known[0]:
            return known
        cluster = await self.directory.status(user_id)
        if cluster is not None:
            return cluster
        if known is not None and known[1]:
            return known
        return False, await self.store.last_active(user_id)

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, tuple[bool, int]]:
        """`status` of many users with one directory round trip; users nobody has seen
        since the node started are absent (their last_active_at is the stored one)."""
        out: dict[int, tuple[bool, int]] = {}
        ask = []
        for user_id in user_ids:
            known = self.tracker.status(user_id)
            if known is not None and known[0]:
                out[user_id] = known
            else:
                ask.append(user_id)
        cluster = await self.directory.statuses(ask) if ask else {}
        for user_id in ask:
            known = self.tracker.status(user_id)
            if user_id in cluster:
                out[user_id] = cluster[user_id]
            elif known is not None and known[1]:
                out[user_id] = known
        return out

    def _announce(self, change: Transition | None) -> None:
        if change is not None:
            self._announcements.put_nowait(change)

    async def _expire_loop(self) -> None:
        tick = min(max(self.timeout_s / 8, 0.05), 1.0)
        while True:
            await asyncio.sleep(tick)
            now = now_ms()
            for change in self.tracker.expire(now):
                self._refreshed.pop(change.user_id, None)
                self._announce(change)
            try:  # users whose nodes all went silent (a node died): this node tells
                for user_id, last_active in await self.directory.expired(now):
                    await self._tell_watchers(Transition(user_id, False, last_active))
            except (ConnectionError, OSError) as e:  # the directory's server is away
                log.warning("presence sweep failed (%s); will retry", e)
            except Exception:
                log.exception("presence sweep failed; will retry")

    async def _announce_loop(self) -> None:
        while True:
            change = await self._announcements.get()
            try:
                if isinstance(change, DeviceSet):
                    await self._report_devices(change)
                    continue
                if change.last_active_at < 0:  # a refresh (see activity)
                    await self.directory.refresh(change.user_id, -change.last_active_at)
                    continue
                if change.online:
                    news = await self.directory.online(change.user_id, change.last_active_at)
                else:
                    news = await self.directory.offline(change.user_id, change.last_active_at)
                if news:
                    await self._tell_watchers(change)
            except Exception:
                log.exception("could not announce presence of user %s", change.user_id)

    async def _report_devices(self, change: DeviceSet) -> None:
        # several sockets of one device, or a reconnect, leave the set as it was
        if self._device_sets.get(change.user_id, ()) == change.devices:
            return
        await self.directory.devices(change.user_id, change.devices)
        if change.devices:
            self._device_sets[change.user_id] = change.devices
        else:
            self._device_sets.pop(change.user_id, None)

    async def _tell_watchers(self, change: Transition) -> None:
        await self.store.set_last_active(change.user_id, change.last_active_at)
        frame = frames.presence_frame(change.user_id, change.online, change.last_active_at)
        for watcher in await self.store.watchers(change.user_id):
            self.bus.publish(watcher, frame)
