"""Messages, receipts, typing, conversations and groups.

The message hot path reads top to bottom in `send` and `deliver`:
validate -> (store: dedupe, id, persist with group commit, fsync) -> caller acks `sent`
-> `deliver` routes one frame per inbox entry to every device of every participant.
"""

from __future__ import annotations

import time

from hubbub.core import frames
from hubbub.core.errors import HubbubError, bad_request, not_found
from hubbub.core.frames import parse_id
from hubbub.core.limits import (
    MAX_GROUP_NAME_CHARS,
    Limits,
    check_body,
    check_client_msg_id,
    check_text,
)
from hubbub.core.model import (
    Conversation,
    ConversationSummary,
    Message,
    Receipt,
    StoredMessage,
)
from hubbub.ports import Bus, Store

DAY_MS = 86_400_000


def _now_ms() -> int:
    return int(time.time() * 1000)


class Chat:
    def __init__(self, store: Store, bus: Bus, limits: Limits) -> None:
        self.store = store
        self.bus = bus
        self.limits = limits

    # -- the message path -------------------------------------------------------------

    async def send(
        self,
        sender_id: int,
        client_msg_id: str,
        body: str,
        *,
        to: str | None = None,
        conversation_id: str | None = None,
    ) -> StoredMessage:
        """Validate and store durably. Returns once the message is committed and fsynced;
        the caller acks (`sent` / 201) and then calls `deliver`."""
        check_client_msg_id(client_msg_id, self.limits)
        check_body(body, self.limits)
        if (to is None) == (conversation_id is None):
            raise bad_request("give exactly one of `to` and `conversation_id`")
        return await self.store.append_message(
            sender_id,
            client_msg_id,
            body,
            to_user=parse_id(to, "to") if to is not None else None,
            conversation_id=(
                parse_id(conversation_id, "conversation_id") if conversation_id else None
            ),
        )

    def deliver(self, stored: StoredMessage) -> None:
        """Hand the message to every participant's devices: one inbox entry each, the
        shared part of the frame encoded once."""
        shared = frames.message_frame_prefix(frames.encode(stored.message))
        for user_id, seq in stored.inbox.items():
            self.bus.publish(user_id, frames.message_frame(seq, shared), seq)

    async def ack(self, user_id: int, device_id: int, seq: int) -> None:
        if seq < 0:
            raise bad_request("seq must be >= 0")
        self._route_receipts(await self.store.ack(user_id, device_id, seq))

    async def read(self, user_id: int, conversation_id: str, message_id: str) -> None:
        receipt = await self.store.mark_read(
            user_id,
            parse_id(conversation_id, "conversation_id"),
            parse_id(message_id, "message_id"),
        )
        if receipt is None:
            return
        self._route_receipts([receipt])
        # the reader's own devices learn it too (a frame of its own, not a `receipt`, which
        # means "someone read your messages"), so unread counts agree across devices
        self.bus.publish(
            user_id,
            frames.read_state_frame(receipt.conversation_id, receipt.message_id, receipt.ts),
        )

    def _route_receipts(self, receipts: list[Receipt]) -> None:
        for r in receipts:
            frame = frames.receipt_frame(
                r.status, r.conversation_id, r.message_id, r.reader_id, r.ts
            )
            for user_id in r.notify:
                self.bus.publish(user_id, frame)

    async def typing(self, user_id: int, conversation_id: str) -> None:
        conv = await self.member_conversation(user_id, conversation_id)
        frame = frames.typing_frame(conv.conversation_id, user_id)
        for member in conv.member_ids:
            if member != user_id:
                self.bus.publish(member, frame)

    # -- reading -------------------------------------------------------------------------

    async def member_conversation(self, user_id: int, conversation_id: str) -> Conversation:
        conv = await self.store.conversation(parse_id(conversation_id, "conversation_id"))
        if conv is None or user_id not in conv.member_ids:
            raise not_found("no such conversation")
        return conv

    async def history(
        self,
        user_id: int,
        retention_days: int | None,
        conversation_id: str,
        before: str | None,
        limit: int | None,
    ) -> list[Message]:
        conv = await self.member_conversation(user_id, conversation_id)
        if limit is None:
            limit = self.limits.history_page_default
        if limit < 1:
            raise bad_request("limit must be at least 1")
        limit = min(limit, self.limits.history_page_max)
        before_id = parse_id(before, "before") if before else None
        # a user who keeps N days of history sees N days, whatever the others keep
        not_before = _now_ms() - retention_days * DAY_MS if retention_days else 0
        return await self.store.history(conv.conversation_id, before_id, limit, not_before)

    async def conversations(
        self, user_id: int, retention_days: int | None
    ) -> list[ConversationSummary]:
        not_before = _now_ms() - retention_days * DAY_MS if retention_days else 0
        return await self.store.conversations(user_id, not_before)

    async def direct(self, user_id: int, peer_id: str) -> Conversation:
        return await self.store.direct_conversation(user_id, parse_id(peer_id, "user_id"))

    # -- groups ----------------------------------------------------------------------------

    async def create_group(self, owner_id: int, name: object, members: object) -> Conversation:
        if not isinstance(name, str):
            raise bad_request("name must be a string")
        check_text(name, "name", MAX_GROUP_NAME_CHARS)
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise bad_request("members must be a list of user ids")
        member_ids = [parse_id(m, "members") for m in members]
        if len(set(member_ids) | {owner_id}) > self.limits.max_group_members:
            raise HubbubError(
                "group_full", f"a group has at most {self.limits.max_group_members} members"
            )
        group = await self.store.create_group(
            owner_id, name, member_ids, self.limits.max_group_members
        )
        self._announce_group(group)
        return group

    async def group(self, user_id: int, group_id: str) -> Conversation:
        conv = await self.member_conversation(user_id, group_id)
        if conv.kind != "group":
            raise not_found("no such group")
        return conv

    async def add_member(self, actor_id: int, group_id: str, user_id: object) -> Conversation:
        if not isinstance(user_id, str):
            raise bad_request("user_id must be a string id")
        group = await self.store.add_member(
            parse_id(group_id, "group_id"),
            actor_id,
            parse_id(user_id, "user_id"),
            self.limits.max_group_members,
        )
        self._announce_group(group)
        return group

    async def remove_member(self, actor_id: int, group_id: str, user_id: str) -> Conversation:
        removed = parse_id(user_id, "user_id")
        group = await self.store.remove_member(parse_id(group_id, "group_id"), actor_id, removed)
        self._announce_group(group, also=removed)  # the removed member learns it too
        return group

    def _announce_group(self, group: Conversation, also: int | None = None) -> None:
        frame = frames.group_frame(
            group.conversation_id, group.name, group.owner_id, group.member_ids
        )
        for member in {*group.member_ids, *([also] if also is not None else [])}:
            self.bus.publish(member, frame)
