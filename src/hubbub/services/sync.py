"""Keeping a connected device in sync: its place in the inbox, the bus subscriptions that
bring it live frames, and the inbox replayed from the store as frames.

The order that misses nothing (gateway/session.py follows it): `subscribe` (every frame
published after it returns reaches this node), then in one step with no await between,
`ready` to the client and the connection registered with the node's hub, then `replay`
pages from the store: a message published before the registration is in the store
already, one published after reaches the connection, and the connection drops what it
was given twice by `seq`. Frames that are never stored (typing, presence) reach the
device from `ready` on, which is what a client may count on.
"""

from __future__ import annotations

import asyncio

from hubbub.core import frames
from hubbub.core.model import Device
from hubbub.ports import Bus, Store

SUBSCRIBE_TIMEOUT_S = 10.0  # a networked bus that cannot subscribe in this long fails


class Sync:
    def __init__(self, store: Store, bus: Bus) -> None:
        self.store = store
        self.bus = bus

    async def head(self, user_id: int) -> int:
        """The user's newest inbox seq (0 for an empty inbox)."""
        return await self.store.inbox_head(user_id)

    async def subscribe(self, device: Device) -> None:
        """Live frames for the device's user, and close requests for the device, reach
        this node from when this returns (TimeoutError after SUBSCRIBE_TIMEOUT_S)."""
        # an interest counts from the call, even one given up (the timeout) before it was
        # confirmed: each is taken back, or the node stays subscribed to a device it has not
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            try:
                await self.bus.watch_user(device.user_id)
            except BaseException:
                self.bus.unwatch_user(device.user_id)
                raise
            try:
                await self.bus.watch_device(device.device_id)
            except BaseException:
                self.bus.unwatch_device(device.device_id)
                self.bus.unwatch_user(device.user_id)
                raise

    def unsubscribe(self, device: Device) -> None:
        self.bus.unwatch_user(device.user_id)
        self.bus.unwatch_device(device.device_id)

    async def replay(self, user_id: int, since: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` retained inbox entries after `since`, ascending, as (seq, frame)."""
        entries = await self.store.inbox_since(user_id, since, limit)
        return [
            (e.seq, frames.message_frame(e.seq, frames.shared_message_part(e.message)))
            for e in entries
        ]
