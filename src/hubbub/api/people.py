"""REST handlers for other users, their presence, and the caller's contacts."""

from __future__ import annotations

from hubbub.api.accounts import avatar_of, user_out
from hubbub.api.http import Call
from hubbub.api.schemas import ContactOut, ContactsOut, PresenceOut, Status, UserOut, UsersOut
from hubbub.core.errors import bad_request
from hubbub.core.frames import parse_id
from hubbub.services.people import People


class PeopleApi:
    def __init__(self, people: People) -> None:
        self.people = people

    async def get_user(self, call: Call) -> UserOut:
        return user_out(await self.people.user(call.path_id("user_id")))

    async def get_users(self, call: Call) -> UsersOut:
        given = call.query("ids") or ""
        ids = [parse_id(part, "ids") for part in given.split(",") if part]
        return UsersOut([user_out(u) for u in await self.people.users(ids)])

    async def search_users(self, call: Call) -> UsersOut:
        found = await self.people.search(call.user_id, call.query("q") or "")
        return UsersOut([user_out(u) for u in found])

    async def find_user(self, call: Call) -> UserOut:
        username = call.query("username")
        if not username:
            raise bad_request("give ?username=NAME")
        return user_out(await self.people.by_name(username))

    async def presence(self, call: Call) -> PresenceOut:
        seen = await self.people.seen(call.path_id("user_id"))
        status: Status = "online" if seen.online else "offline"
        return PresenceOut(str(seen.user.user_id), status, seen.last_active_at)

    async def put_contact(self, call: Call) -> None:
        await self.people.add_contact(call.user_id, call.path_id("user_id"))

    async def delete_contact(self, call: Call) -> None:
        await self.people.remove_contact(call.user_id, call.path_id("user_id"))

    async def contacts(self, call: Call) -> ContactsOut:
        return ContactsOut(
            [
                ContactOut(
                    str(c.user.user_id),
                    c.user.username,
                    c.user.display_name,
                    "online" if c.online else "offline",
                    c.last_active_at,
                    avatar_of(c.user),
                )
                for c in await self.people.contacts(call.user_id)
            ]
        )
