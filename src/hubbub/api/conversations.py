"""REST handlers for conversations: the list, direct conversations, history pages,
posting a message (the same use case as the WebSocket `send`), and deleting a group one
is no longer in from the list."""

from __future__ import annotations

from hubbub.api.http import Call
from hubbub.api.schemas import (
    ConversationOut,
    ConversationsOut,
    DirectOut,
    MessagesOut,
    NewMessage,
    PostedOut,
    ReceiptMarks,
    UserRef,
)
from hubbub.core.clock import now_ms
from hubbub.core.errors import bad_request
from hubbub.core.frames import parse_id
from hubbub.core.model import ConversationSummary
from hubbub.core.push import is_muted
from hubbub.services.conversations import Conversations
from hubbub.services.messaging import Messaging


def _id_or_none(value: int) -> str | None:
    return str(value) if value else None


def conversation_out(user_id: int, s: ConversationSummary) -> ConversationOut:
    conv = s.conversation
    out = ConversationOut(
        str(conv.conversation_id),
        conv.kind,
        last_message=s.last_message,
        unread_count=s.unread_count,
        read_upto=_id_or_none(s.read_upto),
        muted_until=s.muted_until if is_muted(s.muted_until, now_ms()) else None,
        receipts=[
            ReceiptMarks(str(member), _id_or_none(delivered), _id_or_none(read))
            for member, delivered, read in s.receipts
        ],
    )
    if conv.kind == "direct":
        out.peer_id = str(conv.peer_of(user_id))
    else:
        out.group_id = str(conv.conversation_id)
        out.name = conv.name
        out.members = [str(m) for m in conv.member_ids]
    if s.former is not None:  # (core.membership.former_view: no members, the name then)
        out.membership = s.former.how
        out.departed_at = s.former.departed_at
    return out


class ConversationsApi:
    def __init__(self, conversations: Conversations, messaging: Messaging) -> None:
        self.conversations = conversations
        self.messaging = messaging

    async def list(self, call: Call) -> ConversationsOut:
        head, summaries = await self.conversations.summaries(call.user_id)
        return ConversationsOut([conversation_out(call.user_id, s) for s in summaries], head)

    async def direct(self, call: Call) -> DirectOut:
        body: UserRef = call.body
        conv = await self.conversations.direct(call.user_id, parse_id(body.user_id, "user_id"))
        return DirectOut(str(conv.conversation_id), "direct", str(conv.peer_of(call.user_id)))

    async def history(self, call: Call) -> MessagesOut:
        raw_limit = call.query("limit")
        if raw_limit is not None and not (raw_limit.isascii() and raw_limit.isdigit()):
            raise bad_request("limit must be a positive integer")
        before = call.query("before") or None
        messages = await self.conversations.history(
            call.user_id,
            call.path_id("conversation_id"),
            parse_id(before, "before") if before else None,
            int(raw_limit) if raw_limit is not None else None,
        )
        return MessagesOut(messages)

    async def delete(self, call: Call) -> None:
        await self.conversations.delete(call.user_id, call.path_id("conversation_id"))

    async def post_message(self, call: Call) -> PostedOut:
        body: NewMessage = call.body
        stored = await self.messaging.post(
            call.user_id,
            body.client_msg_id,
            body.body,
            conversation_id=call.path_id("conversation_id"),
            attachments=body.attachments,
        )
        return PostedOut(
            str(stored.message_id),
            str(stored.conversation_id),
            stored.message.ts,
            body.client_msg_id,
        )
