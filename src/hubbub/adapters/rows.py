"""Rows to records, shared by the SQL stores: both select these columns in this order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubbub.adapters.media_rows import decode_attachments
from hubbub.core.ids import id_time_ms
from hubbub.core.model import FormerMembership, Message, StoredMessage, User

# m = messages, c = conversations (the message's kind lives on its conversation)
MESSAGE_COLUMNS = (
    "m.message_id, m.conversation_id, c.kind, m.sender_id, m.body, m.client_msg_id,"
    " m.attachments"
)
USER_COLUMNS = "user_id, username, display_name, retention_days, group_adds, avatar_media_id"
DEVICE_COLUMNS = "device_id, user_id, name, created_at, last_used_at"  # Device(*row)
FORMER_COLUMNS = "conversation_id, user_id, how, upto_message_id, name, departed_at"


def message_from_row(row: Sequence[Any]) -> Message:
    """(message_id, conversation_id, kind, sender_id, body, client_msg_id[, attachments
    JSON]) -> Message; the time is the one in the id."""
    message_id, conversation_id, kind, sender_id, body, client_msg_id = row[:6]
    return Message(
        str(message_id),
        str(conversation_id),
        kind,
        str(sender_id),
        body,
        id_time_ms(message_id),
        client_msg_id,
        decode_attachments(row[6]) if len(row) > 6 else None,
    )


def folded_name(display_name: str) -> str:
    """users.name_key: what the people directory matches a prefix against (Unicode case
    folding, which neither SQLite's lower() nor a C-locale PostgreSQL does)."""
    return display_name.casefold()


def former_from_row(row: Sequence[Any]) -> FormerMembership:
    """FORMER_COLUMNS -> FormerMembership"""
    return FormerMembership(int(row[0]), int(row[1]), row[2], int(row[3]), row[4], int(row[5]))


def user_from_row(row: Sequence[Any]) -> User:
    """USER_COLUMNS -> User"""
    avatar = row[5]
    return User(int(row[0]), row[1], row[2], row[3], row[4], int(avatar) if avatar else None)


def repeated_send(
    row: Sequence[Any] | None,
    *,
    sender_id: int,
    client_msg_id: str,
    message_id: int,
    conversation_id: int,
    kind: str,
) -> StoredMessage:
    """The answer to a send whose client_msg_id was seen before: the original message
    (`row`, MESSAGE_COLUMNS), or, once retention removed its row, the original's ids with
    an empty body (the idempotency key outlives the row, and so does the answer)."""
    if row is None:
        row = (message_id, conversation_id, kind, sender_id, "", client_msg_id)
    return StoredMessage(message_from_row(row), message_id, conversation_id, {}, duplicate=True)
