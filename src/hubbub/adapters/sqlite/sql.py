"""SQL run inside the store's jobs and reads, on the engine's threads (store.py holds the
port's methods; these are the helpers several of them share)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from hubbub.adapters.rows import MESSAGE_COLUMNS, message_from_row, repeated_send
from hubbub.core.clock import now_ms
from hubbub.core.errors import not_found
from hubbub.core.membership import check_consent
from hubbub.core.model import Conversation, ConversationKind, ConversationSummary, StoredMessage


def summaries(c: sqlite3.Connection, user_id: int, lower: int) -> list[ConversationSummary]:
    """The user's conversations, newest activity first; the last message and unread count
    ignore message ids below `lower` (the user's retention)."""
    rows = c.execute(
        "SELECT c.conversation_id, mem.read_upto, c.last_message_id, mem.muted_until"
        " FROM members mem JOIN conversations c USING (conversation_id)"
        " WHERE mem.user_id = ?"
        " ORDER BY max(c.last_message_id, c.conversation_id) DESC",
        (user_id,),
    ).fetchall()
    out = []
    for conversation_id, read_upto, last_message_id, muted_until in rows:
        conv = conversation(c, conversation_id)
        assert conv is not None
        last = c.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages m"
            " JOIN conversations c USING (conversation_id)"
            " WHERE m.message_id = ? AND m.message_id >= ?",
            (last_message_id, lower),
        ).fetchone()
        unread = c.execute(
            "SELECT count(*) FROM messages WHERE conversation_id = ?"
            " AND message_id > ? AND sender_id != ?",
            (conversation_id, max(read_upto, lower - 1), user_id),
        ).fetchone()[0]
        receipts = tuple(
            watermarks(c, conversation_id, member)
            for member in conv.member_ids
            if member != user_id
        )
        out.append(
            ConversationSummary(
                conv, message_from_row(last) if last else None, unread, read_upto, receipts,
                muted_until,
            )
        )
    return out


def conversation(c: sqlite3.Connection, conversation_id: int) -> Conversation | None:
    row = c.execute(
        "SELECT kind, name, owner_id FROM conversations WHERE conversation_id = ?",
        (conversation_id,),
    ).fetchone()
    if row is None:
        return None
    kind: ConversationKind = row[0]
    members = tuple(
        r[0]
        for r in c.execute(
            "SELECT user_id FROM members WHERE conversation_id = ? ORDER BY joined_at, user_id",
            (conversation_id,),
        )
    )
    return Conversation(conversation_id, kind, members, row[1], row[2])


def watermarks(c: sqlite3.Connection, conversation_id: int, member: int) -> tuple[int, int, int]:
    """A member's receipt watermarks in a conversation: the newest message it has read,
    and the newest its devices have fetched (an inbox entry at or below its acked seq)."""
    row = c.execute(
        "SELECT mem.read_upto, u.delivered_seq FROM members mem JOIN users u USING (user_id)"
        " WHERE mem.conversation_id = ? AND mem.user_id = ?",
        (conversation_id, member),
    ).fetchone()
    read_upto, delivered_seq = row if row else (0, 0)
    got = c.execute(
        "SELECT m.message_id FROM messages m JOIN inbox i ON i.message_id = m.message_id"
        " WHERE m.conversation_id = ? AND i.user_id = ? AND i.seq <= ?"
        " ORDER BY m.message_id DESC LIMIT 1",
        (conversation_id, member, delivered_seq),
    ).fetchone()
    return member, max(got[0] if got else 0, read_upto), read_upto


def direct(
    c: sqlite3.Connection, user_id: int, peer_id: int, new_id: Callable[[], int]
) -> tuple[Conversation, bool]:
    """Get or create the direct conversation of two users; True if created now."""
    low, high = sorted((user_id, peer_id))
    key = f"{low}:{high}"
    row = c.execute("SELECT conversation_id FROM conversations WHERE direct_key = ?", (key,))
    found = row.fetchone()
    if found:
        conv = conversation(c, found[0])
        assert conv is not None
        return conv, False
    require_users(c, [peer_id])
    now = now_ms()
    conversation_id = new_id()
    c.execute(
        "INSERT INTO conversations (conversation_id, kind, direct_key, created_at)"
        " VALUES (?, 'direct', ?, ?)",
        (conversation_id, key, now),
    )
    members = tuple(dict.fromkeys((user_id, peer_id)))
    c.executemany(
        "INSERT INTO members (conversation_id, user_id, joined_at) VALUES (?, ?, ?)",
        [(conversation_id, m, now) for m in members],
    )
    return Conversation(conversation_id, "direct", members), True


def require_users(c: sqlite3.Connection, user_ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(user_ids))
    found = {
        r[0] for r in c.execute(f"SELECT user_id FROM users WHERE user_id IN ({marks})", user_ids)
    }
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise not_found(f"no such user: {', '.join(map(str, missing))}")


def admit(c: sqlite3.Connection, actor_id: int, user_ids: Sequence[int]) -> None:
    """The users the actor puts in a group exist and accept it (core.membership)."""
    marks = ",".join("?" * len(user_ids))
    rows = c.execute(
        "SELECT u.user_id, u.group_adds, EXISTS(SELECT 1 FROM contacts k"
        f" WHERE k.owner_id = u.user_id AND k.contact_id = ?) FROM users u"
        f" WHERE u.user_id IN ({marks})",
        (actor_id, *user_ids),
    ).fetchall()
    found = {r[0] for r in rows}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise not_found(f"no such user: {', '.join(map(str, missing))}")
    check_consent(actor_id, [(r[0], r[1], bool(r[2])) for r in rows])


def sent_key(
    c: sqlite3.Connection, sender_id: int, client_msg_id: str
) -> tuple[int, int] | None:
    """(message_id, conversation_id) of the sender's earlier send with that key."""
    row = c.execute(
        "SELECT message_id, conversation_id FROM sent_keys"
        " WHERE sender_id = ? AND client_msg_id = ?",
        (sender_id, client_msg_id),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def original(
    c: sqlite3.Connection, sender_id: int, client_msg_id: str, message_id: int, cid: int
) -> StoredMessage:
    row = c.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN conversations c USING (conversation_id)"
        " WHERE m.message_id = ?",
        (message_id,),
    ).fetchone()
    conv = None if row else conversation(c, cid)
    return repeated_send(
        row,
        sender_id=sender_id,
        client_msg_id=client_msg_id,
        message_id=message_id,
        conversation_id=cid,
        kind=conv.kind if conv else "direct",
    )
