"""REST handlers for groups: create, look up, rename, add and remove members."""

from __future__ import annotations

from hubbub.api.http import Call
from hubbub.api.schemas import GroupChange, GroupOut, NewGroup, UserRef
from hubbub.core.frames import parse_id
from hubbub.core.model import Conversation
from hubbub.services.groups import Groups


def group_out(conv: Conversation) -> GroupOut:
    return GroupOut(
        str(conv.conversation_id),
        str(conv.conversation_id),
        conv.name,
        str(conv.owner_id) if conv.owner_id is not None else None,
        [str(m) for m in conv.member_ids],
    )


class GroupsApi:
    def __init__(self, groups: Groups) -> None:
        self.groups = groups

    async def create(self, call: Call) -> GroupOut:
        body: NewGroup = call.body
        members = [parse_id(m, "members") for m in body.members]
        return group_out(await self.groups.create(call.user_id, body.name, members))

    async def get(self, call: Call) -> GroupOut:
        return group_out(await self.groups.get(call.user_id, call.path_id("group_id")))

    async def rename(self, call: Call) -> GroupOut:
        body: GroupChange = call.body
        group_id = call.path_id("group_id")
        return group_out(await self.groups.rename(call.user_id, group_id, body.name))

    async def add_member(self, call: Call) -> None:
        body: UserRef = call.body
        user_id = parse_id(body.user_id, "user_id")
        await self.groups.add_member(call.user_id, call.path_id("group_id"), user_id)

    async def remove_member(self, call: Call) -> None:
        await self.groups.remove_member(
            call.user_id, call.path_id("group_id"), call.path_id("user_id")
        )
