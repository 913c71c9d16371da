"""The message path: posting a message, acks and delivered receipts, reads and read
receipts, typing. The WebSocket session and the REST handlers call these and only
translate the outcome into a frame or a response.

A message, top to bottom (`post`):
  validate (core.limits) -> Store.append_message (dedupe, id, one inbox entry per
  participant, group commit + fsync) -> count -> fan out: one `message` frame per inbox
  entry on the bus (the shared part encoded once) -> every device of every participant.
Fan-out runs on the next turn of the event loop, after the caller has answered: the
sender's device sees `sent` before its own copy of the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from hubbub.core import frames
from hubbub.core.clock import now_ms
from hubbub.core.errors import bad_request, not_found
from hubbub.core.limits import Limits, check_body, check_client_msg_id
from hubbub.core.media import ATTACH_WITHIN_MS, check_attachment_ids
from hubbub.core.model import Conversation, Receipt, StoredMessage
from hubbub.ports import Bus, Store
from hubbub.services.counters import Counters
from hubbub.services.throttle import Throttle


class Messaging:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        limits: Limits,
        counters: Counters,
        throttle: Throttle,
        *,
        wake_push: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.wake_push = wake_push  # the commit wrote push outbox rows: send them now
        self.bus = bus
        self.limits = limits
        self.counters = counters
        self.throttle = throttle
        self.rules = throttle.rules

    async def post(
        self,
        sender_id: int,
        client_msg_id: str,
        body: str,
        *,
        to: int | None = None,
        conversation_id: int | None = None,
        attachments: Sequence[str] | None = None,
    ) -> StoredMessage:
        """Store a message durably and deliver it to every participant. Returns once it
        is committed and fsynced (the caller may answer `sent` / 201); a repeated
        client_msg_id returns the original (`duplicate`) and stores and delivers nothing.
        `attachments`: media ids the sender uploaded (then the body may be empty)."""
        check_client_msg_id(client_msg_id, self.limits)
        check_body(body, self.limits, allow_empty=attachments is not None)
        if (to is None) == (conversation_id is None):
            raise bad_request("give exactly one of `to` and `conversation_id`")
        self.throttle.here(self.rules.sends_per_user, f"u{sender_id}")
        if conversation_id is not None:
            self.throttle.here(self.rules.sends_per_conversation, f"c{conversation_id}")
        else:
            pair = sorted((sender_id, to or 0))
            self.throttle.here(self.rules.sends_per_conversation, f"d{pair[0]}:{pair[1]}")
        media_ids = check_attachment_ids(attachments) if attachments is not None else []
        since = now_ms() - ATTACH_WITHIN_MS if media_ids else 0  # (a clock read saved per text)
        # no await before the append: a device's sends commit in the order they came
        stored = await self.store.append_message(
            sender_id, client_msg_id, body, to_user=to, conversation_id=conversation_id,
            media_ids=media_ids, media_since_ms=since,
        )  # fmt: skip
        if not stored.duplicate:
            self.counters.messages_stored += 1
            asyncio.get_running_loop().call_soon(self._fan_out, stored)
            if stored.pushes:
                self.wake_push()
        return stored

    def _fan_out(self, stored: StoredMessage) -> None:
        shared = frames.shared_message_part(stored.message)
        for user_id, seq in stored.inbox.items():
            self.bus.publish(user_id, frames.message_frame(seq, shared), seq)

    async def ack(self, user_id: int, device_id: int, seq: int) -> None:
        """The device has every inbox entry up to `seq`; entries the user's devices had
        not acked before yield `delivered` receipts to their senders."""
        if seq < 0:
            raise bad_request("seq must be >= 0")
        self._route_receipts(await self.store.ack(user_id, device_id, seq))

    async def read(self, user_id: int, conversation_id: int, message_id: int) -> None:
        """The user has read the conversation up to `message_id`: `read` receipts to the
        senders, and a `read_state` frame to the reader's own devices."""
        receipt = await self.store.mark_read(user_id, conversation_id, message_id)
        if receipt is None:
            return
        self._route_receipts([receipt])
        # the reader's own devices learn it too (a frame of its own, not a `receipt`, which
        # means "someone read your messages"), so unread counts agree across devices
        self.bus.publish(
            user_id,
            frames.read_state_frame(receipt.conversation_id, receipt.message_id, receipt.ts),
        )
        if receipt.pushes:  # clearing pushes for what was shown, queued in the read's commit
            self.wake_push()

    def _route_receipts(self, receipts: list[Receipt]) -> None:
        for r in receipts:
            frame = frames.receipt_frame(
                r.status, r.conversation_id, r.message_id, r.reader_id, r.ts
            )
            for user_id in r.notify:
                self.bus.publish(user_id, frame)

    async def typing(self, user_id: int, conversation_id: int) -> None:
        self.throttle.here(self.rules.typing_per_user, f"u{user_id}")
        conv = await self.member_conversation(user_id, conversation_id)
        frame = frames.typing_frame(conv.conversation_id, user_id)
        for member in conv.member_ids:
            if member != user_id:
                self.bus.publish(member, frame)

    async def member_conversation(self, user_id: int, conversation_id: int) -> Conversation:
        """The conversation, if `user_id` takes part in it; not_found otherwise (a
        non-member cannot tell a conversation it is not in from one that does not exist)."""
        conv = await self.store.conversation(conversation_id)
        if conv is None or user_id not in conv.member_ids:
            raise not_found("no such conversation")
        return conv
