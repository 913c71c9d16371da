"""The node's connected devices, by user and by device: the bus delivers here."""

from __future__ import annotations

from hubbub.gateway.connection import DeviceConnection
from hubbub.services.counters import Counters


class Hub:
    def __init__(self, counters: Counters) -> None:
        self._by_user: dict[int, list[DeviceConnection]] = {}
        self._by_device: dict[int, list[DeviceConnection]] = {}
        self._counters = counters

    def register(self, conn: DeviceConnection) -> None:
        self._by_user.setdefault(conn.user_id, []).append(conn)
        self._by_device.setdefault(conn.device_id, []).append(conn)

    def unregister(self, conn: DeviceConnection) -> None:
        for index, key in ((self._by_user, conn.user_id), (self._by_device, conn.device_id)):
            conns = index.get(key)
            if conns and conn in conns:
                conns.remove(conn)
                if not conns:
                    del index[key]

    # -- the bus's Receiver side ---------------------------------------------------------

    def deliver(self, user_id: int, frame: bytes, seq: int) -> None:
        conns = self._by_user.get(user_id, ())
        for conn in conns:
            if seq:
                conn.push_entry(seq, frame)
            else:
                conn.push(frame)
        if seq:
            self._counters.deliveries += len(conns)

    def close_device(self, device_id: int, code: int, reason: str) -> None:
        for conn in list(self._by_device.get(device_id, ())):
            conn.request_close(code, reason)

    # -- reading -------------------------------------------------------------------------

    def devices_of(self, user_id: int) -> set[int]:
        """The user's devices with an open socket on this node."""
        return {conn.device_id for conn in self._by_user.get(user_id, ())}

    def has_device(self, device_id: int) -> bool:
        """The device has an open socket on this node."""
        return device_id in self._by_device

    def connection_count(self) -> int:
        return sum(len(c) for c in self._by_device.values())

    def user_count(self) -> int:
        return len(self._by_user)

    def queued_bytes(self) -> int:
        return sum(c.queued_bytes for conns in self._by_device.values() for c in conns)
