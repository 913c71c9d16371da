"""The PresenceDirectory of a single node: the node's own tracker is the whole truth, so
every local transition is a transition of the user."""

from __future__ import annotations

from collections.abc import Sequence


class LocalPresenceDirectory:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def online(self, user_id: int, last_active: int) -> bool:
        return True

    async def refresh(self, user_id: int, last_active: int) -> None:
        return None

    async def offline(self, user_id: int, last_active: int) -> bool:
        return True

    async def status(self, user_id: int) -> tuple[bool, int] | None:
        return None  # the service asks its tracker, then the store

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, tuple[bool, int]]:
        return {}

    async def expired(self, now_ms: int) -> list[tuple[int, int]]:
        return []

    async def devices(self, user_id: int, device_ids: Sequence[int]) -> None:
        return None

    async def device_live(self, user_id: int, device_id: int) -> bool:
        return False
