"""Reading conversations: the list with unread counts and receipt watermarks, history
pages, and getting (or starting) a direct conversation. Each honours the reader's own
history retention: a user who keeps N days sees N days, whatever the others keep."""

from __future__ import annotations

from hubbub.core.clock import days_ago_ms, now_ms
from hubbub.core.errors import bad_request
from hubbub.core.limits import Limits
from hubbub.core.model import Conversation, ConversationSummary, Message
from hubbub.ports import Store
from hubbub.services.messaging import Messaging


class Conversations:
    def __init__(self, store: Store, messaging: Messaging, limits: Limits) -> None:
        self.store = store
        self.messaging = messaging
        self.limits = limits

    async def summaries(self, user_id: int) -> tuple[int, list[ConversationSummary]]:
        """The user's inbox head, then the conversations, newest activity first. The head
        is read first, so whatever the list leaves out has a seq above it (a message
        stored in between is in both, which a client tells by its id)."""
        head = await self.store.inbox_head(user_id)
        return head, await self.store.conversations(user_id, await self._not_before(user_id))

    async def history(
        self, user_id: int, conversation_id: int, before: int | None, limit: int | None
    ) -> list[Message]:
        """Newest first, ids < `before`, at most `limit` (default and maximum in Limits)."""
        conv = await self.messaging.member_conversation(user_id, conversation_id)
        if limit is None:
            limit = self.limits.history_page_default
        if limit < 1:
            raise bad_request("limit must be at least 1")
        limit = min(limit, self.limits.history_page_max)
        not_before = await self._not_before(user_id)
        return await self.store.history(conv.conversation_id, before, limit, not_before)

    async def direct(self, user_id: int, peer_id: int) -> Conversation:
        """Get or create; not_found if the peer does not exist."""
        return await self.store.direct_conversation(user_id, peer_id)

    async def _not_before(self, user_id: int) -> int:
        user = await self.store.user_by_id(user_id)
        return days_ago_ms(user.history_retention_days if user else None, now_ms())
