"""Groups: create, look up, rename, add and remove members (core.membership has the
rules; the store applies them inside its transaction). Every change is announced with a
`group` frame to each member, and to a member who was just removed (and to no one who
was removed before: a former member learns nothing of the group after their departure)."""

from __future__ import annotations

from collections.abc import Sequence

from hubbub.core import frames
from hubbub.core.errors import not_found
from hubbub.core.limits import MAX_GROUP_NAME_CHARS, Limits, check_text
from hubbub.core.membership import founding_members
from hubbub.core.model import Conversation
from hubbub.ports import Bus, Store
from hubbub.services.messaging import Messaging
from hubbub.services.throttle import Throttle


class Groups:
    def __init__(
        self, store: Store, bus: Bus, messaging: Messaging, limits: Limits, throttle: Throttle
    ) -> None:
        self.store = store
        self.bus = bus
        self.messaging = messaging
        self.limits = limits
        self.throttle = throttle

    async def create(self, owner_id: int, name: str, member_ids: Sequence[int]) -> Conversation:
        check_text(name, "name", MAX_GROUP_NAME_CHARS)
        members = founding_members(owner_id, member_ids, self.limits.max_group_members)
        await self.throttle.everywhere(self.throttle.rules.groups_per_user, f"u{owner_id}")
        group = await self.store.create_group(owner_id, name, members)
        self._announce(group, owner_id)
        return group

    async def get(self, user_id: int, group_id: int) -> Conversation:
        """The group, to its members; not_found for anyone else."""
        conv = await self.messaging.member_conversation(user_id, group_id)
        if conv.kind != "group":
            raise not_found("no such group")
        return conv

    async def rename(self, actor_id: int, group_id: int, name: str) -> Conversation:
        """Any member renames the group; its members hear it (`group` frame), its former
        members do not (they keep the name of their time)."""
        check_text(name, "name", MAX_GROUP_NAME_CHARS)
        group = await self.store.rename_group(group_id, actor_id, name)
        self._announce(group, actor_id)
        return group

    async def add_member(self, actor_id: int, group_id: int, user_id: int) -> Conversation:
        await self.throttle.everywhere(self.throttle.rules.group_adds_per_user, f"u{actor_id}")
        group = await self.store.add_member(
            group_id, actor_id, user_id, self.limits.max_group_members
        )
        self._announce(group, actor_id)
        return group

    async def remove_member(self, actor_id: int, group_id: int, user_id: int) -> Conversation:
        group = await self.store.remove_member(group_id, actor_id, user_id)
        self._announce(group, actor_id, also=user_id)  # the removed member learns it too
        return group

    def _announce(self, group: Conversation, actor_id: int, also: int | None = None) -> None:
        frame = frames.group_frame(
            group.conversation_id, group.name, group.owner_id, group.member_ids, actor_id
        )
        for member in {*group.member_ids, *([also] if also is not None else [])}:
            self.bus.publish(member, frame)
