"""The Bus port in-process: the single-node default. Publishing is a direct call into the
local hub, so per-user order is publish order and nothing is lost while the node runs.
Interest management is a no-op: the one receiver gets every frame and keeps what it has
connections for."""

from __future__ import annotations

from hubbub.ports import Receiver


class InProcessBus:
    def __init__(self) -> None:
        self._receiver: Receiver | None = None

    async def start(self, receiver: Receiver) -> None:
        self._receiver = receiver

    async def stop(self) -> None:
        self._receiver = None

    def publish(self, user_id: int, frame: bytes, seq: int = 0) -> None:
        if self._receiver is not None:
            self._receiver.deliver(user_id, frame, seq)

    def publish_close(self, device_id: int, code: int, reason: str) -> None:
        if self._receiver is not None:
            self._receiver.close_device(device_id, code, reason)

    async def watch_user(self, user_id: int) -> None:
        pass

    def unwatch_user(self, user_id: int) -> None:
        pass

    async def watch_device(self, device_id: int) -> None:
        pass

    def unwatch_device(self, device_id: int) -> None:
        pass
