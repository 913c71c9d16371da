"""REST handlers for accounts and devices: sign up, log in and out, the caller's profile
and settings."""

from __future__ import annotations

from msgspec import UNSET

from hubbub.api.http import Call
from hubbub.api.schemas import (
    DeviceOut,
    DevicesOut,
    LogIn,
    MeOut,
    MeSettings,
    ProfileChange,
    RetentionSetting,
    SessionOut,
    Settings,
    SignUp,
    TokenOut,
    UserOut,
)
from hubbub.core.frames import parse_id
from hubbub.core.model import User
from hubbub.services.accounts import Accounts
from hubbub.services.people import People
from hubbub.services.push import Push


def avatar_of(user: User) -> str | None:
    return str(user.avatar_id) if user.avatar_id is not None else None


def user_out(user: User) -> UserOut:
    return UserOut(str(user.user_id), user.username, user.display_name, avatar_of(user))


class AccountsApi:
    def __init__(self, accounts: Accounts, people: People, push: Push) -> None:
        self.accounts = accounts
        self.people = people
        self.push = push

    async def sign_up(self, call: Call) -> UserOut:
        body: SignUp = call.body
        user = await self.accounts.sign_up(
            body.username, body.password, body.display_name, address=call.address
        )
        return user_out(user)

    async def log_in(self, call: Call) -> SessionOut:
        body: LogIn = call.body
        token, device = await self.accounts.log_in(
            body.username, body.password, body.device_name, address=call.address
        )
        return SessionOut(token, str(device.user_id), str(device.device_id))

    async def log_out(self, call: Call) -> None:
        await self.accounts.log_out(call.device)

    async def devices(self, call: Call) -> DevicesOut:
        return DevicesOut(
            [
                DeviceOut(
                    str(d.device_id),
                    d.name,
                    d.created_at,
                    max(d.last_used_at, d.created_at),
                    d.device_id == call.device.device_id,
                )
                for d in await self.accounts.devices(call.user_id)
            ]
        )

    async def log_out_device(self, call: Call) -> None:
        await self.accounts.log_out_device(call.user_id, call.path_id("device_id"))

    async def new_token(self, call: Call) -> TokenOut:
        return TokenOut(await self.accounts.new_token(call.device))

    async def me(self, call: Call) -> MeOut:
        user = await self.people.user(call.user_id)
        return MeOut(
            str(user.user_id),
            user.username,
            user.display_name,
            str(call.device.device_id),
            MeSettings(
                user.history_retention_days,
                user.group_adds,
                await self.push.preview(call.user_id),
            ),
            avatar_of(user),
        )

    async def update_profile(self, call: Call) -> UserOut:
        body: ProfileChange = call.body
        user = await self.accounts.update_profile(
            call.user_id,
            display_name=body.display_name if isinstance(body.display_name, str) else None,
            group_adds=None if body.group_adds is UNSET else body.group_adds,
            set_avatar=body.avatar is not UNSET,
            avatar_id=parse_id(body.avatar, "avatar") if isinstance(body.avatar, str) else None,
        )  # first: it checks the name and the picture, so a refusal stores nothing
        if body.push_preview is not UNSET:
            await self.push.set_preview(call.user_id, body.push_preview)
        return user_out(user)

    async def put_settings(self, call: Call) -> Settings:
        body: RetentionSetting = call.body
        user = await self.accounts.set_retention(call.user_id, body.history_retention_days)
        return Settings(user.history_retention_days)
