"""SQL run inside the store's jobs and reads (store.py holds the port's methods; these
are the helpers several of them share)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import asyncpg

from hubbub.adapters.rows import MESSAGE_COLUMNS, message_from_row, repeated_send
from hubbub.core.clock import now_ms
from hubbub.core.errors import not_found
from hubbub.core.membership import check_consent
from hubbub.core.model import Conversation, ConversationKind, ConversationSummary, StoredMessage

Conn: TypeAlias = asyncpg.Connection


async def summaries(c: Conn, user_id: int, lower: int) -> list[ConversationSummary]:
    """The user's conversations, newest activity first; the last message and unread count
    ignore message ids below `lower` (the user's retention)."""
    rows = await c.fetch(
        "SELECT c.conversation_id, c.kind, c.name, c.owner_id, mem.read_upto,"
        " c.last_message_id, mem.muted_until"
        " FROM members mem JOIN conversations c USING (conversation_id)"
        " WHERE mem.user_id = $1"
        " ORDER BY greatest(c.last_message_id, c.conversation_id) DESC",
        user_id,
    )
    out = []
    for cid, kind, name, owner_id, read_upto, last_message_id, muted_until in rows:
        # every member's watermarks at once, in membership order
        marks = await c.fetch(
            "SELECT mem.user_id, mem.read_upto, coalesce((SELECT max(i.message_id)"
            " FROM inbox i WHERE i.user_id = mem.user_id"
            " AND i.conversation_id = mem.conversation_id"
            " AND i.seq <= u.delivered_seq), 0)"
            " FROM members mem JOIN users u USING (user_id)"
            " WHERE mem.conversation_id = $1 ORDER BY mem.joined_at, mem.user_id",
            cid,
        )
        conv = Conversation(cid, kind, tuple(r[0] for r in marks), name, owner_id)
        last = await c.fetchrow(
            f"SELECT {MESSAGE_COLUMNS} FROM messages m"
            " JOIN conversations c USING (conversation_id)"
            " WHERE m.conversation_id = $1 AND m.message_id = $2 AND m.message_id >= $3",
            cid,
            last_message_id,
            lower,
        )
        unread = await c.fetchval(
            "SELECT count(*) FROM messages WHERE conversation_id = $1"
            " AND message_id > $2 AND sender_id != $3",
            cid,
            max(read_upto, lower - 1),
            user_id,
        )
        receipts = tuple(
            (member, max(got, member_read), member_read)
            for member, member_read, got in marks
            if member != user_id
        )
        out.append(
            ConversationSummary(
                conv, message_from_row(last) if last else None, unread, read_upto, receipts,
                int(muted_until),
            )
        )
    return out


def rowcount(status: str) -> int:
    """The row count of a command tag like 'DELETE 3'."""
    return int(status.rsplit(" ", 1)[-1])


async def conversation(c: Conn, conversation_id: int) -> Conversation | None:
    row = await c.fetchrow(
        "SELECT kind, name, owner_id FROM conversations WHERE conversation_id = $1",
        conversation_id,
    )
    if row is None:
        return None
    kind: ConversationKind = row[0]
    members = await c.fetch(
        "SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id",
        conversation_id,
    )
    return Conversation(conversation_id, kind, tuple(int(r[0]) for r in members), row[1], row[2])


async def direct(c: Conn, user_id: int, peer_id: int, new_id: Callable[[], int]) -> Conversation:
    """Get or create the direct conversation of two users (race-safe across nodes)."""
    low, high = sorted((user_id, peer_id))
    key = f"{low}:{high}"
    found = await c.fetchval("SELECT conversation_id FROM conversations WHERE direct_key = $1", key)
    if found is None:
        await require_users(c, [peer_id])
        now = now_ms()
        created = await c.fetchval(
            "INSERT INTO conversations (conversation_id, kind, direct_key, created_at)"
            " VALUES ($1, 'direct', $2, $3) ON CONFLICT (direct_key) DO NOTHING"
            " RETURNING conversation_id",
            new_id(),
            key,
            now,
        )
        if created is not None:
            members = list(dict.fromkeys((user_id, peer_id)))
            await c.execute(
                "INSERT INTO members (conversation_id, user_id, joined_at)"
                " SELECT $1, unnest($2::bigint[]), $3",
                created,
                members,
                now,
            )
            return Conversation(created, "direct", tuple(members))
        # another node created it and committed meanwhile (ON CONFLICT waited for it)
        found = await c.fetchval(
            "SELECT conversation_id FROM conversations WHERE direct_key = $1", key
        )
    conv = await conversation(c, found)
    assert conv is not None
    return conv


async def locked_group(c: Conn, group_id: int) -> Conversation | None:
    """The conversation, read while its advisory lock is held (membership changes of one
    group are serialized across nodes, so group_full holds under concurrent adds)."""
    return await conversation(c, group_id)


async def require_users(c: Conn, user_ids: Sequence[int]) -> None:
    rows = await c.fetch(
        "SELECT user_id FROM users WHERE user_id = ANY($1::bigint[])", list(user_ids)
    )
    found = {int(r[0]) for r in rows}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise not_found(f"no such user: {', '.join(map(str, missing))}")


async def admit(c: Conn, actor_id: int, user_ids: Sequence[int]) -> None:
    """The users the actor puts in a group exist and accept it (core.membership)."""
    rows = await c.fetch(
        "SELECT u.user_id, u.group_adds, EXISTS(SELECT 1 FROM contacts k"
        " WHERE k.owner_id = u.user_id AND k.contact_id = $1) FROM users u"
        " WHERE u.user_id = ANY($2::bigint[])",
        actor_id,
        list(user_ids),
    )
    found = {int(r[0]) for r in rows}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise not_found(f"no such user: {', '.join(map(str, missing))}")
    check_consent(actor_id, [(int(r[0]), r[1], bool(r[2])) for r in rows])


async def original(
    c: Conn, sender_id: int, client_msg_id: str, message_id: int, cid: int
) -> StoredMessage:
    row = await c.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN conversations c USING (conversation_id)"
        " WHERE m.conversation_id = $1 AND m.message_id = $2",
        cid,
        message_id,
    )
    conv = None if row else await conversation(c, cid)
    return repeated_send(
        row,
        sender_id=sender_id,
        client_msg_id=client_msg_id,
        message_id=message_id,
        conversation_id=cid,
        kind=conv.kind if conv else "direct",
    )


# -- bulk statements of the writer's fast pass (engine.py, "Bulk") ---------------------------


async def append_many(
    c: Conn, rows: list[tuple[Any, ...]], keys: list[int]
) -> list[asyncpg.Record]:
    """Sends (sender, client_msg_id, body, to_user, conversation_id, message_id,
    new_conversation_id), in order, in one round trip; every member of each must be among
    `keys`, the advisory locks the batch holds."""
    columns = list(zip(*rows, strict=True))
    return list(
        await c.fetch(
            "SELECT * FROM hubbub_append_many($1::bigint[], $2::text[], $3::text[],"
            " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8, $9)",
            *columns,
            now_ms(),
            keys,
        )
    )


async def ack_many(c: Conn, rows: list[tuple[Any, ...]], keys: list[int]) -> list[asyncpg.Record]:
    """Acks (user, device, seq), in order, in one round trip."""
    del keys  # each ack's user is locked by the batch; hubbub_ack checks nothing more
    return list(
        await c.fetch(
            "SELECT * FROM hubbub_ack_many($1::bigint[], $2::bigint[], $3::bigint[])",
            *zip(*rows, strict=True),
        )
    )


async def read_many(c: Conn, rows: list[tuple[Any, ...]], keys: list[int]) -> list[asyncpg.Record]:
    """Reads (user, conversation, message), in order, in one round trip."""
    del keys  # each read's user is locked by the batch; hubbub_read writes only its rows
    return list(
        await c.fetch(
            "SELECT * FROM hubbub_read_many($1::bigint[], $2::bigint[], $3::bigint[], $4)",
            *zip(*rows, strict=True),
            now_ms(),
        )
    )


async def last_active_many(
    c: Conn, rows: list[tuple[Any, ...]], keys: list[int]
) -> list[asyncpg.Record]:
    """Last-seen times (user, ms) in one statement; a user named twice keeps the later."""
    del keys  # each row's user is locked by the batch
    await _keep_latest(c, "users", "user_id", "last_active_at", rows)
    return []


async def touch_many(c: Conn, rows: list[tuple[Any, ...]], keys: list[int]) -> list[asyncpg.Record]:
    """Devices' last use (device, ms) in one statement; a device named twice keeps the
    later."""
    del keys  # each device's user is locked by the batch
    await _keep_latest(c, "devices", "device_id", "last_used_at", rows)
    return []


async def _keep_latest(
    c: Conn, table: str, key: str, column: str, rows: list[tuple[Any, ...]]
) -> None:
    """column = the greatest of itself and the rows' (key, ms) stamps, one statement
    (table, key and column are this module's constants, never input)."""
    await c.execute(
        f"UPDATE {table} t SET {column} = greatest(t.{column}, x.ts)"
        " FROM (SELECT id, max(ts) AS ts FROM unnest($1::bigint[], $2::bigint[])"
        f" AS r(id, ts) GROUP BY id) x WHERE t.{key} = x.id",
        *zip(*rows, strict=True),
    )
