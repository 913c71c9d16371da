"""Sign-up, login (one device per login), logout, profile and settings."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from hubbub.core.errors import HubbubError
from hubbub.core.limits import (
    MAX_DEVICE_NAME_CHARS,
    MAX_DISPLAY_NAME_CHARS,
    check_password,
    check_retention_days,
    check_text,
    check_username,
)
from hubbub.core.model import Device, User
from hubbub.ports import Bus, Hasher, Store

CLOSE_LOGGED_OUT = 4002


def token_hash(token: str) -> bytes:
    """Tokens are stored only as their SHA-256: a leaked database holds no usable token."""
    return hashlib.sha256(token.encode()).digest()


class Accounts:
    def __init__(self, store: Store, hasher: Hasher, bus: Bus) -> None:
        self.store = store
        self.hasher = hasher
        self.bus = bus
        # verified against when the username does not exist, so both failures cost the same
        self._dummy_hash = hasher.hash(secrets.token_hex(16))

    async def sign_up(self, username: str, password: str, display_name: str | None) -> User:
        name = check_username(username)
        secret = check_password(password)
        shown = check_text(
            name if display_name is None else display_name, "display_name", MAX_DISPLAY_NAME_CHARS
        )
        if await self.store.user_by_name(name) is not None:
            raise HubbubError("conflict", "that username is taken")
        hashed = await asyncio.to_thread(self.hasher.hash, secret)
        return await self.store.create_user(name, hashed, shown)

    async def log_in(
        self, username: str, password: str, device_name: str | None
    ) -> tuple[str, Device]:
        """A new device with its token. A wrong username and a wrong password get the same
        answer after the same work (the unknown name is verified against a dummy hash)."""
        name = check_text(
            "device" if device_name is None else device_name, "device_name", MAX_DEVICE_NAME_CHARS
        )
        found = await self.store.password_hash(username)
        stored_hash = found[1] if found else self._dummy_hash
        ok = await asyncio.to_thread(self.hasher.verify, stored_hash, password)
        if not found or not ok:
            raise HubbubError("unauthorized", "wrong username or password")
        token = "hb_" + secrets.token_urlsafe(32)
        device = await self.store.create_device(found[0], name, token_hash(token))
        return token, device

    async def authenticate(self, token: str) -> Device | None:
        """The device a token belongs to, if it is not logged out."""
        if not token or len(token) > 256:
            return None
        return await self.store.device_by_token(token_hash(token))

    async def log_out(self, device: Device) -> None:
        """Revoke the token, then close that device's socket wherever it is."""
        await self.store.revoke_device(device.device_id)
        self.bus.publish_close(device.device_id, CLOSE_LOGGED_OUT, "logged out")

    async def rename(self, user_id: int, display_name: str) -> User:
        shown = check_text(display_name, "display_name", MAX_DISPLAY_NAME_CHARS)
        return await self.store.update_profile(user_id, shown, None, set_retention=False)

    async def set_retention(self, user_id: int, days: int | None) -> User:
        """Keep `days` of history (None: for ever)."""
        retention = check_retention_days(days)
        return await self.store.update_profile(user_id, None, retention, set_retention=True)
