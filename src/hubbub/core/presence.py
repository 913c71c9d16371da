"""Presence rules (protocol-v1 "Presence"), pure: the caller passes the time in.

A user is online while some device of theirs has sent a frame (the `hello` counts)
within `timeout_ms`; going offline waits for that timeout after the last frame, so a
socket that drops and comes back within it never shows the user offline (no flapping).
The one immediate transition is a logout of the only connected device.

Expiry is a min-heap of deadlines, one live entry per online user, so a tick costs
O(users whose deadline passed), not O(online users).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Transition:
    user_id: int
    online: bool
    last_active_at: int


@dataclass(slots=True)
class _User:
    connections: int = 0
    online: bool = False
    last_active_at: int = 0
    queued: bool = False  # has a live entry in the deadline heap


class PresenceTracker:
    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self._users: dict[int, _User] = {}
        self._deadlines: list[tuple[int, int]] = []

    def connected(self, user_id: int, now_ms: int) -> Transition | None:
        user = self._users.setdefault(user_id, _User())
        user.connections += 1
        return self.activity(user_id, now_ms)

    def activity(self, user_id: int, now_ms: int) -> Transition | None:
        """A frame arrived from one of the user's devices."""
        user = self._users.get(user_id)
        if user is None:
            return None
        user.last_active_at = max(user.last_active_at, now_ms)
        if not user.queued:
            heapq.heappush(self._deadlines, (user.last_active_at + self.timeout_ms, user_id))
            user.queued = True
        if user.online:
            return None
        user.online = True
        return Transition(user_id, True, user.last_active_at)

    def disconnected(self, user_id: int, *, logged_out: bool) -> Transition | None:
        """A socket closed. Only a logout of the last connected device goes offline now;
        otherwise the deadline decides."""
        user = self._users.get(user_id)
        if user is None:
            return None
        user.connections = max(user.connections - 1, 0)
        if logged_out and user.connections == 0 and user.online:
            user.online = False
            return Transition(user_id, False, user.last_active_at)
        self._forget_if_idle(user_id, user)
        return None

    def expire(self, now_ms: int) -> list[Transition]:
        """Users whose last frame is older than the timeout go offline."""
        changes: list[Transition] = []
        while self._deadlines and self._deadlines[0][0] <= now_ms:
            _, user_id = heapq.heappop(self._deadlines)
            user = self._users.get(user_id)
            if user is None:
                continue
            deadline = user.last_active_at + self.timeout_ms
            if deadline > now_ms:  # active since this entry was queued: look again later
                heapq.heappush(self._deadlines, (deadline, user_id))
                continue
            user.queued = False
            if user.online:
                user.online = False
                changes.append(Transition(user_id, False, user.last_active_at))
            self._forget_if_idle(user_id, user)
        return changes

    def status(self, user_id: int) -> tuple[bool, int] | None:
        """(online, last_active_at) as this node knows it, or None if it knows nothing."""
        user = self._users.get(user_id)
        if user is None:
            return None
        return user.online, user.last_active_at

    def next_deadline(self) -> int | None:
        return self._deadlines[0][0] if self._deadlines else None

    def _forget_if_idle(self, user_id: int, user: _User) -> None:
        if user.connections == 0 and not user.online and not user.queued:
            del self._users[user_id]
