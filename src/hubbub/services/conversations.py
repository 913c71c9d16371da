"""Reading conversations: the list with unread counts and receipt watermarks, history
pages, getting (or starting) a direct conversation, and deleting a chat one is no longer
in. Each honours the reader's own history retention: a user who keeps N days sees N days,
whatever the others keep.

Former members (core.membership): a group the user left or was removed from stays in
their list, read only, under the name it had then, with the messages up to their
departure and nothing after, until they delete it (their other devices get a
`conversation_deleted` frame) or are added back."""

from __future__ import annotations

import heapq

from hubbub.core import frames
from hubbub.core.clock import days_ago_ms, now_ms
from hubbub.core.errors import bad_request, not_found
from hubbub.core.limits import Limits
from hubbub.core.membership import (
    deletable,
    former_activity,
    former_view,
    page_before,
    reading_ceiling,
)
from hubbub.core.model import Conversation, ConversationSummary, FormerMembership, Message
from hubbub.ports import Bus, Store


def _activity(s: ConversationSummary) -> int:
    """The list's order: the newest message, or the departure of a former group."""
    if s.former is not None:
        return former_activity(s.former)
    last = int(s.last_message.message_id) if s.last_message else 0
    return max(last, s.conversation.conversation_id)


class Conversations:
    def __init__(self, store: Store, bus: Bus, limits: Limits) -> None:
        self.store = store
        self.bus = bus
        self.limits = limits

    async def summaries(self, user_id: int) -> tuple[int, list[ConversationSummary]]:
        """The user's inbox head, then, newest activity first, the user's conversations
        and the groups they are no longer in (`former` set) where their departure was.
        The head is read first, so whatever the list leaves out has a seq above it (a
        message stored in between is in both, which a client tells by its id)."""
        head = await self.store.inbox_head(user_id)
        not_before = await self._not_before(user_id)
        current = await self.store.conversations(user_id, not_before)
        formers = sorted(
            [await self._former_summary(f, not_before)
             for f in await self.store.former_memberships(user_id)],
            key=_activity,
            reverse=True,
        )  # fmt: skip
        # a merge: the store's own order of the current ones stays as it is
        return head, list(heapq.merge(current, formers, key=_activity, reverse=True))

    async def _former_summary(
        self, former: FormerMembership, not_before: int
    ) -> ConversationSummary:
        newest = await self.store.history(
            former.conversation_id, page_before(None, former.upto), 1, not_before
        )
        # nothing unread, no one's receipts: what they were there for is all they get
        return ConversationSummary(
            former_view(former), newest[0] if newest else None, 0, former.upto, former=former
        )

    async def history(
        self, user_id: int, conversation_id: int, before: int | None, limit: int | None
    ) -> list[Message]:
        """Newest first, ids < `before`, at most `limit` (default and maximum in Limits);
        a former member's pages stop at their departure."""
        conv = await self.store.conversation(conversation_id)
        former = None
        if conv is not None and user_id not in conv.member_ids:
            former = await self.store.former_membership(user_id, conversation_id)
        ceiling = reading_ceiling(conv, former, user_id)
        if limit is None:
            limit = self.limits.history_page_default
        if limit < 1:
            raise bad_request("limit must be at least 1")
        limit = min(limit, self.limits.history_page_max)
        not_before = await self._not_before(user_id)
        return await self.store.history(
            conversation_id, page_before(before, ceiling), limit, not_before
        )

    async def delete(self, user_id: int, conversation_id: int) -> None:
        """Delete a group the user is no longer in from their list (all their devices):
        conflict if they still take part in the conversation, not_found otherwise."""
        conv = await self.store.conversation(conversation_id)
        former = await self.store.former_membership(user_id, conversation_id)
        deletable(conv, former, user_id)
        if not await self.store.forget_former(user_id, conversation_id):
            raise not_found("no such conversation")  # deleted (or added back) meanwhile
        self.bus.publish(user_id, frames.conversation_deleted_frame(conversation_id))

    async def direct(self, user_id: int, peer_id: int) -> Conversation:
        """Get or create; not_found if the peer does not exist."""
        return await self.store.direct_conversation(user_id, peer_id)

    async def _not_before(self, user_id: int) -> int:
        user = await self.store.user_by_id(user_id)
        return days_ago_ms(user.history_retention_days if user else None, now_ms())
