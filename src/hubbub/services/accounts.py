"""Sign-up, login (one device per login), devices and their tokens, logout, profile and
settings.

A token lasts while it is used: a device unused for `token_ttl_days` (no REST call, no
WebSocket hello, no frame) is logged out by its token expiring; each use pushes the
expiry on (written at most once an hour per device). A user has at most `max_devices`
devices: a log-in past that logs out the least recently used one."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

from hubbub.core import frames
from hubbub.core.clock import DAY_MS, now_ms
from hubbub.core.errors import HubbubError, not_found
from hubbub.core.limits import (
    MAX_DEVICE_NAME_CHARS,
    MAX_DISPLAY_NAME_CHARS,
    check_password,
    check_retention_days,
    check_text,
    check_username,
)
from hubbub.core.media import ATTACH_WITHIN_MS
from hubbub.core.model import Device, GroupAdds, User
from hubbub.ports import Bus, Hasher, Store
from hubbub.services.throttle import Throttle

CLOSE_LOGGED_OUT = 4002
TOUCH_EVERY_MS = 3_600_000  # how stale a device's last use may be before it is written


@dataclass(frozen=True, slots=True)
class DevicePolicy:
    token_ttl_days: int = 30
    max_devices: int = 50

    @property
    def token_ttl_ms(self) -> int:
        return self.token_ttl_days * DAY_MS


def _new_token() -> str:
    return "hb_" + secrets.token_urlsafe(32)  # 256 random bits


def token_hash(token: str) -> bytes:
    """Tokens are stored only as their SHA-256: a leaked database holds no usable token."""
    return hashlib.sha256(token.encode()).digest()


class Accounts:
    def __init__(
        self,
        store: Store,
        hasher: Hasher,
        bus: Bus,
        throttle: Throttle,
        policy: DevicePolicy | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or DevicePolicy()
        self.hasher = hasher
        self.bus = bus
        self.throttle = throttle
        self.rules = throttle.rules
        # verified against when the username does not exist, so both failures cost the same
        self._dummy_hash = hasher.hash(secrets.token_hex(16))

    async def sign_up(
        self, username: str, password: str, display_name: str | None, *, address: str
    ) -> User:
        name = check_username(username)
        secret = check_password(password)
        shown = check_text(
            name if display_name is None else display_name, "display_name", MAX_DISPLAY_NAME_CHARS
        )
        await self.throttle.everywhere(self.rules.signups_per_address, address)
        if await self.store.user_by_name(name) is not None:
            raise HubbubError("conflict", "that username is taken")
        hashed = await asyncio.to_thread(self.hasher.hash, secret)
        return await self.store.create_user(name, hashed, shown)

    async def log_in(
        self, username: str, password: str, device_name: str | None, *, address: str
    ) -> tuple[str, Device]:
        """A new device with its token. A wrong username and a wrong password get the same
        answer after the same work (the unknown name is verified against a dummy hash).
        Guessing is slowed per account and per address: once the failures' buckets are
        empty, every attempt is refused until they refill, the right password included."""
        name = check_text(
            "device" if device_name is None else device_name, "device_name", MAX_DEVICE_NAME_CHARS
        )
        rules = self.rules
        await self.throttle.everywhere(rules.logins_per_address, address)
        await self.throttle.not_exhausted(rules.login_failures_per_account, username)
        await self.throttle.not_exhausted(rules.login_failures_per_address, address)
        found = await self.store.password_hash(username)
        stored_hash = found[1] if found else self._dummy_hash
        ok = await asyncio.to_thread(self.hasher.verify, stored_hash, password)
        if not found or not ok:
            await self.throttle.count(rules.login_failures_per_account, username)
            await self.throttle.count(rules.login_failures_per_address, address)
            raise HubbubError("unauthorized", "wrong username or password")
        token = _new_token()
        device, evicted = await self.store.create_device(
            found[0], name, token_hash(token), self.policy.max_devices
        )
        for device_id in evicted:
            self.bus.publish_close(device_id, CLOSE_LOGGED_OUT, "logged out: too many devices")
        return token, device

    async def authenticate(self, token: str) -> Device | None:
        """The device a token belongs to, if it is neither logged out nor expired. Using
        a token keeps it alive."""
        if not token or len(token) > 256:
            return None
        device = await self.store.device_by_token(token_hash(token))
        if device is None:
            return None
        now = now_ms()
        if now - max(device.last_used_at, device.created_at) > self.policy.token_ttl_ms:
            await self.store.revoke_device(device.user_id, device.device_id)
            return None
        await self.keep_alive(device, now)
        return device

    async def keep_alive(self, device: Device, now: int) -> None:
        """The device is in use: its token's expiry starts again (a write an hour)."""
        if now - max(device.last_used_at, device.created_at) > TOUCH_EVERY_MS:
            await self.store.touch_device(device.user_id, device.device_id, now)

    async def devices(self, user_id: int) -> list[Device]:
        return await self.store.devices(user_id)

    async def log_out_device(self, user_id: int, device_id: int) -> None:
        """Log out one of the user's devices (not_found for anyone else's)."""
        if device_id not in {d.device_id for d in await self.store.devices(user_id)}:
            raise not_found("no such device")
        await self.store.revoke_device(user_id, device_id)
        self.bus.publish_close(device_id, CLOSE_LOGGED_OUT, "logged out from another device")

    async def new_token(self, device: Device) -> str:
        """A fresh token for the device; the one it was called with stops working."""
        token = _new_token()
        if not await self.store.replace_token(device.user_id, device.device_id, token_hash(token)):
            raise HubbubError("unauthorized", "this device is logged out")
        return token

    async def log_out(self, device: Device) -> None:
        """Revoke the token, then close that device's socket wherever it is."""
        await self.store.revoke_device(device.user_id, device.device_id)
        self.bus.publish_close(device.device_id, CLOSE_LOGGED_OUT, "logged out")

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None,
        group_adds: GroupAdds | None,
        set_avatar: bool = False,
        avatar_id: int | None = None,
    ) -> User:
        """The display name, who may put the user in a group ("everyone", or only
        "contacts"), and (when set_avatar) the profile picture: one of the user's own image
        uploads of the last day, or None for none. None leaves a field as it is. Checked
        before anything is stored, so a refusal changes nothing. A new name or picture is
        told (a `profile` frame) to the user's own devices and to those who have the user
        as a contact; everyone else sees it on their next look-up."""
        shown = None
        if display_name is not None:
            shown = check_text(display_name, "display_name", MAX_DISPLAY_NAME_CHARS)
        before = await self.store.user_by_id(user_id)
        if set_avatar:  # first: its refusals (not yours, not an image) come before any write
            await self.store.set_avatar(user_id, avatar_id, now_ms() - ATTACH_WITHIN_MS)
        user = await self.store.update_profile(
            user_id, shown, None, set_retention=False, group_adds=group_adds
        )
        if before is None or (before.display_name, before.avatar_id) != (
            user.display_name,
            user.avatar_id,
        ):
            await self._announce(user)
        return user

    async def _announce(self, user: User) -> None:
        frame = frames.profile_frame(user)
        for watcher in {user.user_id, *await self.store.watchers(user.user_id)}:
            self.bus.publish(watcher, frame)

    async def set_retention(self, user_id: int, days: float | None) -> User:
        """Keep `days` of history (None: for ever)."""
        retention = check_retention_days(days)
        return await self.store.update_profile(user_id, None, retention, set_retention=True)
