"""Other users: looking them up, their presence ("online" or "last seen"), and the
contacts whose presence a user follows."""

from __future__ import annotations

from dataclasses import dataclass

from hubbub.core.errors import bad_request, not_found
from hubbub.core.model import User
from hubbub.ports import Store
from hubbub.services.presence import Presence
from hubbub.services.throttle import Throttle

MAX_USERS_PER_LOOKUP = 100  # a page of a conversation list's names
MIN_SEARCH_CHARS, MAX_SEARCH_CHARS = 2, 64  # a prefix of one letter lists a 26th of everyone
SEARCH_RESULTS = 20


@dataclass(frozen=True, slots=True)
class Seen:
    """A user's presence: online, and the time of their last frame (0: never seen)."""

    user: User
    online: bool
    last_active_at: int


class People:
    def __init__(self, store: Store, presence: Presence, throttle: Throttle) -> None:
        self.store = store
        self.presence = presence
        self.throttle = throttle

    async def user(self, user_id: int) -> User:
        user = await self.store.user_by_id(user_id)
        if user is None:
            raise not_found("no such user")
        return user

    async def users(self, user_ids: list[int]) -> list[User]:
        """Many users in one call (a client showing a conversation list needs every
        name on it); at most MAX_USERS_PER_LOOKUP ids, each once; unknown ids are left
        out, in the order given otherwise."""
        if not 1 <= len(user_ids) <= MAX_USERS_PER_LOOKUP:
            raise bad_request(f"give 1..{MAX_USERS_PER_LOOKUP} user ids")
        wanted = list(dict.fromkeys(user_ids))
        found = {u.user_id: u for u in await self.store.users_by_ids(wanted)}
        return [found[i] for i in wanted if i in found]

    async def search(self, user_id: int, query: str) -> list[User]:
        """The people directory: users whose username or display name starts with the
        query (case-insensitive, a leading @ ignored), at most SEARCH_RESULTS. Bounded so
        that it finds people without listing everyone: 2+ characters, 20 answers, and a
        rate limit per caller."""
        if not MIN_SEARCH_CHARS <= len(query) <= MAX_SEARCH_CHARS:
            raise bad_request(f"search for {MIN_SEARCH_CHARS}..{MAX_SEARCH_CHARS} characters")
        await self.throttle.everywhere(self.throttle.rules.searches_per_user, f"u{user_id}")
        prefix = query.strip().lstrip("@").casefold()  # as users.name_key is kept
        if len(prefix) < MIN_SEARCH_CHARS or "\x00" in prefix:
            return []  # "@a", "  ": too little to look for (and nobody is called that)
        return await self.store.search_users(prefix, SEARCH_RESULTS)

    async def by_name(self, username: str) -> User:
        user = await self.store.user_by_name(username)
        if user is None:
            raise not_found("no such user")
        return user

    async def seen(self, user_id: int) -> Seen:
        user = await self.user(user_id)
        online, last_active = await self.presence.status(user.user_id)
        return Seen(user, online, last_active)

    async def add_contact(self, owner_id: int, contact_id: int) -> None:
        """From now on the owner receives the contact's presence events."""
        await self.throttle.everywhere(self.throttle.rules.contacts_per_user, f"u{owner_id}")
        await self.store.put_contact(owner_id, contact_id)

    async def remove_contact(self, owner_id: int, contact_id: int) -> None:
        await self.throttle.everywhere(self.throttle.rules.contacts_per_user, f"u{owner_id}")
        await self.store.delete_contact(owner_id, contact_id)

    async def contacts(self, owner_id: int) -> list[Seen]:
        """The owner's contacts with their presence: one store query and one directory
        round trip, however many contacts there are."""
        stored = await self.store.contacts(owner_id)
        live = await self.presence.statuses([user.user_id for user, _ in stored])
        out = []
        for user, stored_last_active in stored:
            online, last_active = live.get(user.user_id, (False, 0))
            out.append(Seen(user, online, max(last_active, stored_last_active)))
        return out
