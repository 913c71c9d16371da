"""The Store port on PostgreSQL (asyncpg). Each method is a small SQL function run by the
engine: writes through the group-commit writer, reads on the pool.

Unlike SQLite, several nodes may write the same database at once, so nothing is cached in
memory: a user's inbox head is `users.inbox_head`, drawn with UPDATE ... RETURNING (its
row lock serializes the writers of one user; participants are locked in user_id order),
direct conversations are got-or-created with INSERT ... ON CONFLICT, and the idempotency
key is claimed with INSERT ... ON CONFLICT DO NOTHING (a node that loses the race to
another node's commit answers with the winner's message as a duplicate).

Tables are laid out for partitioning by conversation or user: see migrations.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeAlias

import asyncpg

from hubbub.adapters.media_rows import encode_attachments
from hubbub.adapters.postgres import sql
from hubbub.adapters.postgres.engine import Bulk, BulkStatement, NeedsLocks, PostgresEngine
from hubbub.adapters.postgres.media import PostgresMediaStore, attachable, share
from hubbub.adapters.postgres.migrations import migrate
from hubbub.adapters.postgres.push import PostgresPushStore, forget_devices
from hubbub.adapters.rows import (
    DEVICE_COLUMNS,
    FORMER_COLUMNS,
    MESSAGE_COLUMNS,
    USER_COLUMNS,
    folded_name,
    former_from_row,
    message_from_row,
    repeated_send,
    user_from_row,
)
from hubbub.core.clock import DAY_MS, now_ms
from hubbub.core.errors import HubbubError, bad_request, not_found
from hubbub.core.ids import EPOCH_MS, NODE_BITS, SEQ_BITS, IdGenerator, first_id_at
from hubbub.core.limits import UNDELIVERED_KEEP_DAYS
from hubbub.core.media import NOT_AVATAR_SOURCE, check_avatar_type
from hubbub.core.membership import after_removal, departure, group_for_change, may_add
from hubbub.core.model import (
    Conversation,
    ConversationSummary,
    Device,
    FormerMembership,
    GroupAdds,
    InboxEntry,
    Message,
    Receipt,
    StoredMessage,
    User,
)
from hubbub.core.receipts import fold_receipts, read_receipt

_MAX_ID = (1 << 63) - 1
MEMBERS_CACHED = 100_000  # conversations whose members a node remembers (to name locks)


def name_key(username: str) -> int:
    """The advisory lock key of a username (claimed before the user exists)."""
    return int.from_bytes(hashlib.sha256(b"username:" + username.encode()).digest()[:8]) >> 1


Conn: TypeAlias = asyncpg.Connection


class PostgresStore:
    def __init__(
        self,
        dsn: str,
        ids: IdGenerator,
        *,
        pool_size: int = 4,
        max_batch: int = 512,
        on_commit: Callable[[int, float], None] | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.ids = ids
        self._members: dict[int, tuple[int, ...]] = {}
        self.engine = PostgresEngine(
            dsn, pool_size=pool_size, max_batch=max_batch, on_commit=on_commit, on_retry=on_retry
        )
        self.push = PostgresPushStore(self.engine)
        self.media = PostgresMediaStore(self.engine)

    async def open(self) -> None:
        conn = await self.engine.connect()
        try:
            await migrate(conn)
        finally:
            await conn.close()
        await self.engine.start()

    async def close(self) -> None:
        await self.engine.stop()

    def _new_id(self) -> int:
        return self.ids.next_id(now_ms())

    # -- accounts and devices ----------------------------------------------------------

    async def create_user(self, username: str, password_hash: str, display_name: str) -> User:
        user_id = self._new_id()

        async def insert(c: Conn) -> User:
            inserted = await c.fetchval(
                "INSERT INTO users (user_id, username, display_name, password_hash,"
                " created_at, name_key) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (username) DO NOTHING RETURNING user_id",
                user_id,
                username,
                display_name,
                password_hash,
                now_ms(),
                folded_name(display_name),
            )
            if inserted is None:
                raise HubbubError("conflict", "that username is taken")
            return User(user_id, username, display_name, None)

        return await self.engine.write(insert, locks=[name_key(username)])

    async def user_by_id(self, user_id: int) -> User | None:
        async def q(c: Conn) -> User | None:
            row = await c.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE user_id = $1", user_id)
            return user_from_row(row) if row else None

        return await self.engine.read(q)

    async def users_by_ids(self, user_ids: Sequence[int]) -> list[User]:
        async def q(c: Conn) -> list[User]:
            rows = await c.fetch(
                f"SELECT {USER_COLUMNS} FROM users WHERE user_id = ANY($1::bigint[])",
                list(user_ids),
            )
            return [user_from_row(r) for r in rows]

        return await self.engine.read(q) if user_ids else []

    async def search_users(self, prefix: str, limit: int) -> list[User]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        async def q(c: Conn) -> list[User]:
            rows = await c.fetch(
                f"SELECT {USER_COLUMNS} FROM users WHERE username LIKE $1"
                f" UNION SELECT {USER_COLUMNS} FROM users WHERE name_key LIKE $1"
                " ORDER BY username LIMIT $2",
                pattern,
                limit,
            )
            return [user_from_row(r) for r in rows]

        return await self.engine.read(q)

    async def user_by_name(self, username: str) -> User | None:
        async def q(c: Conn) -> User | None:
            row = await c.fetchrow(
                f"SELECT {USER_COLUMNS} FROM users WHERE username = $1", username
            )
            return user_from_row(row) if row else None

        return await self.engine.read(q)

    async def password_hash(self, username: str) -> tuple[int, str] | None:
        async def q(c: Conn) -> tuple[int, str] | None:
            row = await c.fetchrow(
                "SELECT user_id, password_hash FROM users WHERE username = $1", username
            )
            return (row[0], row[1]) if row else None

        return await self.engine.read(q)

    async def update_profile(
        self,
        user_id: int,
        display_name: str | None,
        retention_days: int | None,
        *,
        set_retention: bool,
        group_adds: GroupAdds | None = None,
    ) -> User:
        async def update(c: Conn) -> User:
            row = await c.fetchrow(
                "UPDATE users SET display_name = coalesce($2, display_name),"
                " retention_days = CASE WHEN $3 THEN $4::integer ELSE retention_days END,"
                " group_adds = coalesce($5, group_adds), name_key = coalesce($6, name_key)"
                f" WHERE user_id = $1 RETURNING {USER_COLUMNS}",
                user_id,
                display_name,
                set_retention,
                retention_days,
                group_adds,
                folded_name(display_name) if display_name is not None else None,
            )
            if row is None:
                raise not_found("no such user")
            return user_from_row(row)

        return await self.engine.write(update, locks=[user_id])

    async def set_avatar(self, user_id: int, media_id: int | None, since_ms: int) -> User:
        async def update(c: Conn) -> User:
            if media_id is not None:  # a plain read, no lock (as attachable): a media row
                # this recent is never purged (the grace is longer than since_ms reaches)
                kind = await c.fetchval(
                    "SELECT content_type FROM media"
                    " WHERE media_id = $1 AND uploader_id = $2 AND created_at >= $3",
                    media_id,
                    user_id,
                    since_ms,
                )
                if kind is None:
                    raise not_found(NOT_AVATAR_SOURCE)
                check_avatar_type(kind)
            row = await c.fetchrow(
                "UPDATE users SET avatar_media_id = $2"
                f" WHERE user_id = $1 RETURNING {USER_COLUMNS}",
                user_id,
                media_id,
            )
            if row is None:
                raise not_found("no such user")
            return user_from_row(row)

        return await self.engine.write(update, locks=[user_id])

    async def create_device(
        self, user_id: int, name: str, token_hash: bytes, max_devices: int
    ) -> tuple[Device, list[int]]:
        device_id = self._new_id()

        async def insert(c: Conn) -> tuple[Device, list[int]]:
            now = now_ms()
            rows = await c.fetch(
                "UPDATE devices SET revoked_at = $1 WHERE device_id IN ("
                " SELECT device_id FROM devices WHERE user_id = $2 AND revoked_at IS NULL"
                " ORDER BY greatest(last_used_at, created_at) DESC, device_id DESC"
                " OFFSET $3) RETURNING device_id",
                now,
                user_id,
                max_devices - 1,
            )
            await c.execute(
                "INSERT INTO devices (device_id, user_id, name, token_hash, created_at)"
                " VALUES ($1, $2, $3, $4, $5)",
                device_id,
                user_id,
                name,
                token_hash,
                now,
            )
            evicted = [int(r[0]) for r in rows]
            await forget_devices(c, evicted)
            return Device(device_id, user_id, name, now, 0), evicted

        return await self.engine.write(insert, locks=[user_id])

    async def device_by_token(self, token_hash: bytes) -> Device | None:
        async def q(c: Conn) -> Device | None:
            row = await c.fetchrow(
                f"SELECT {DEVICE_COLUMNS} FROM devices"
                " WHERE token_hash = $1 AND revoked_at IS NULL",
                token_hash,
            )
            return Device(*row) if row else None

        return await self.engine.read(q)

    async def devices(self, user_id: int) -> list[Device]:
        async def q(c: Conn) -> list[Device]:
            rows = await c.fetch(
                f"SELECT {DEVICE_COLUMNS} FROM devices"
                " WHERE user_id = $1 AND revoked_at IS NULL"
                " ORDER BY greatest(last_used_at, created_at) DESC, device_id DESC",
                user_id,
            )
            return [Device(*r) for r in rows]

        return await self.engine.read(q)

    async def _write_row(
        self, statement: BulkStatement, row: tuple[Any, ...], locks: list[int]
    ) -> list[asyncpg.Record]:
        """A job that is one row of a bulk statement, whose functions answer a status and
        never raise for a refusal (so no savepoint): in the fast pass it joins the batch's
        other rows of that statement; run alone (a careful pass), it is the statement
        with this one row."""

        async def alone(c: Conn) -> list[asyncpg.Record]:
            return await statement(c, [row], [])

        bulk = Bulk(statement, lambda: row, list)
        return await self.engine.write(alone, locks=locks, savepoint=False, bulk=bulk)

    async def touch_device(self, user_id: int, device_id: int, now_ms: int) -> None:
        await self._write_row(sql.touch_many, (device_id, now_ms), [user_id])

    async def replace_token(self, user_id: int, device_id: int, token_hash: bytes) -> bool:
        async def replace(c: Conn) -> bool:
            status = await c.execute(
                "UPDATE devices SET token_hash = $1 WHERE device_id = $2 AND revoked_at IS NULL",
                token_hash,
                device_id,
            )
            return bool(sql.rowcount(status) == 1)

        return await self.engine.write(replace, locks=[user_id])

    async def revoke_device(self, user_id: int, device_id: int) -> None:
        async def revoke(c: Conn) -> None:
            await c.execute(
                "UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL",
                now_ms(),
                device_id,
            )
            await forget_devices(c, [device_id])  # logout removes its push subscriptions

        await self.engine.write(revoke, locks=[user_id])

    # -- contacts and presence ----------------------------------------------------------

    async def put_contact(self, owner_id: int, contact_id: int) -> None:
        async def put(c: Conn) -> None:
            if not await c.fetchval("SELECT 1 FROM users WHERE user_id = $1", contact_id):
                raise not_found("no such user")
            await c.execute(
                "INSERT INTO contacts VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                owner_id,
                contact_id,
                now_ms(),
            )

        await self.engine.write(put, locks=[owner_id])

    async def delete_contact(self, owner_id: int, contact_id: int) -> None:
        async def delete(c: Conn) -> None:
            await c.execute(
                "DELETE FROM contacts WHERE owner_id = $1 AND contact_id = $2",
                owner_id,
                contact_id,
            )

        await self.engine.write(delete, locks=[owner_id])

    async def contacts(self, owner_id: int) -> list[tuple[User, int]]:
        async def q(c: Conn) -> list[tuple[User, int]]:
            rows = await c.fetch(
                "SELECT u.user_id, u.username, u.display_name, u.retention_days, u.group_adds,"
                " u.avatar_media_id, u.last_active_at FROM contacts k"
                " JOIN users u ON u.user_id = k.contact_id"
                ' WHERE k.owner_id = $1 ORDER BY u.username COLLATE "C"',
                owner_id,
            )
            return [(user_from_row(r[:6]), int(r[6])) for r in rows]

        return await self.engine.read(q)

    async def watchers(self, user_id: int) -> list[int]:
        async def q(c: Conn) -> list[int]:
            rows = await c.fetch("SELECT owner_id FROM contacts WHERE contact_id = $1", user_id)
            return [int(r[0]) for r in rows]

        return await self.engine.read(q)

    async def last_active(self, user_id: int) -> int:
        async def q(c: Conn) -> int:
            value = await c.fetchval("SELECT last_active_at FROM users WHERE user_id = $1", user_id)
            return int(value) if value is not None else 0

        return await self.engine.read(q)

    async def set_last_active(self, user_id: int, ts: int) -> None:
        # a wave of people coming and going is a batch of these: one statement for all
        await self._write_row(sql.last_active_many, (user_id, ts), [user_id])

    # -- conversations and groups --------------------------------------------------------

    async def direct_conversation(self, user_id: int, peer_id: int) -> Conversation:
        return await self.engine.write(
            lambda c: sql.direct(c, user_id, peer_id, self._new_id), locks=[user_id, peer_id]
        )

    async def create_group(
        self, owner_id: int, name: str, member_ids: Sequence[int]
    ) -> Conversation:
        group_id = self._new_id()
        members = tuple(member_ids)

        async def create(c: Conn) -> Conversation:
            await sql.admit(c, owner_id, members)
            now = now_ms()
            await c.execute(
                "INSERT INTO conversations (conversation_id, kind, name, owner_id, created_at)"
                " VALUES ($1, 'group', $2, $3, $4)",
                group_id,
                name,
                owner_id,
                now,
            )
            await c.execute(
                "INSERT INTO members (conversation_id, user_id, joined_at)"
                " SELECT $1, unnest($2::bigint[]), $3",
                group_id,
                list(members),
                now,
            )
            return Conversation(group_id, "group", members, name, owner_id)

        return await self.engine.write(create, locks=[owner_id])

    async def add_member(
        self, group_id: int, actor_id: int, user_id: int, max_members: int
    ) -> Conversation:
        async def add(c: Conn) -> Conversation:
            group = group_for_change(await sql.locked_group(c, group_id), actor_id)
            if not may_add(group, user_id, max_members):
                return group
            await sql.admit(c, actor_id, [user_id])
            await c.execute(
                "INSERT INTO members (conversation_id, user_id, joined_at) VALUES ($1, $2, $3)",
                group_id,
                user_id,
                now_ms(),
            )
            await c.execute(  # back in: a member again, not a former one
                "DELETE FROM former_members WHERE conversation_id = $1 AND user_id = $2",
                group_id,
                user_id,
            )
            return await sql.conversation(c, group_id) or group

        return await self.engine.write(add, locks=[group_id, user_id])

    async def remove_member(self, group_id: int, actor_id: int, user_id: int) -> Conversation:
        async def remove(c: Conn) -> Conversation:
            before = group_for_change(await sql.locked_group(c, group_id), actor_id)
            after = after_removal(before, actor_id, user_id)
            # stable while the batch runs: every send to the group holds its key too
            last_message_id = await c.fetchval(
                "SELECT last_message_id FROM conversations WHERE conversation_id = $1",
                group_id,
            )
            former = departure(before, actor_id, user_id, int(last_message_id), now_ms())
            await c.execute(
                "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2",
                group_id,
                user_id,
            )
            await c.execute(
                f"INSERT INTO former_members ({FORMER_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (conversation_id, user_id)"
                " DO UPDATE SET how = excluded.how, upto_message_id = excluded.upto_message_id,"
                " name = excluded.name, departed_at = excluded.departed_at",
                former.conversation_id,
                former.user_id,
                former.how,
                former.upto,
                former.name,
                former.departed_at,
            )
            if after.owner_id != before.owner_id:
                await c.execute(
                    "UPDATE conversations SET owner_id = $1 WHERE conversation_id = $2",
                    after.owner_id,
                    group_id,
                )
            return after

        return await self.engine.write(remove, locks=[group_id, user_id])

    async def rename_group(self, group_id: int, actor_id: int, name: str) -> Conversation:
        async def rename(c: Conn) -> Conversation:
            group = group_for_change(await sql.locked_group(c, group_id), actor_id)
            await c.execute(
                "UPDATE conversations SET name = $1 WHERE conversation_id = $2", name, group_id
            )
            return replace(group, name=name)

        # the conversation's row: its key (sends to the group hold it too)
        return await self.engine.write(rename, locks=[group_id])

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self.engine.read(lambda c: sql.conversation(c, conversation_id), snapshot=True)

    async def former_membership(
        self, user_id: int, conversation_id: int
    ) -> FormerMembership | None:
        async def q(c: Conn) -> FormerMembership | None:
            row = await c.fetchrow(
                f"SELECT {FORMER_COLUMNS} FROM former_members"
                " WHERE conversation_id = $1 AND user_id = $2",
                conversation_id,
                user_id,
            )
            return former_from_row(tuple(row)) if row else None

        return await self.engine.read(q)

    async def former_memberships(self, user_id: int) -> list[FormerMembership]:
        async def q(c: Conn) -> list[FormerMembership]:
            rows = await c.fetch(
                f"SELECT {FORMER_COLUMNS} FROM former_members WHERE user_id = $1", user_id
            )
            return [former_from_row(tuple(r)) for r in rows]

        return await self.engine.read(q)

    async def forget_former(self, user_id: int, conversation_id: int) -> bool:
        async def forget(c: Conn) -> bool:
            status = await c.execute(
                "DELETE FROM former_members WHERE conversation_id = $1 AND user_id = $2",
                conversation_id,
                user_id,
            )
            return sql.rowcount(status) == 1

        # the keys of every writer of the row (remove_member, add_member hold both)
        return await self.engine.write(forget, locks=[conversation_id, user_id])

    async def conversations(
        self, user_id: int, not_before_ms: int = 0
    ) -> list[ConversationSummary]:
        lower = first_id_at(not_before_ms)

        return await self.engine.read(lambda c: sql.summaries(c, user_id, lower), snapshot=True)

    async def history(
        self, conversation_id: int, before: int | None, limit: int, not_before_ms: int
    ) -> list[Message]:
        upper = before if before is not None else _MAX_ID
        lower = first_id_at(not_before_ms)

        async def q(c: Conn) -> list[Message]:
            rows = await c.fetch(
                f"SELECT {MESSAGE_COLUMNS} FROM messages m"
                " JOIN conversations c USING (conversation_id)"
                " WHERE m.conversation_id = $1 AND m.message_id < $2 AND m.message_id >= $3"
                " ORDER BY m.message_id DESC LIMIT $4",
                conversation_id,
                upper,
                lower,
                limit,
            )
            return [message_from_row(r) for r in rows]

        return await self.engine.read(q)

    # -- the message path ------------------------------------------------------------------

    async def append_message(
        self,
        sender_id: int,
        client_msg_id: str,
        body: str,
        *,
        to_user: int | None,
        conversation_id: int | None,
        media_ids: Sequence[int] = (),
        media_since_ms: int = 0,
    ) -> StoredMessage:
        carried: str | None = None
        if to_user is not None:  # a direct conversation: its two users' keys cover it
            locks = [sender_id, to_user]
        else:  # the conversation's and its members' keys, as this node last saw them
            # (no read here: an await before the write would let a device's sends swap
            # places; unknown members come back as needs_locks and the job runs again)
            assert conversation_id is not None
            locks = [conversation_id, *self._members.get(conversation_id, ())]

        def arguments() -> tuple[Any, ...]:
            # the ids are drawn in commit order: conversation order is id order
            new_ids = self._new_id(), self._new_id()  # the message's; a new direct chat's
            return sender_id, client_msg_id, body, to_user, conversation_id, *new_ids

        def checked(row: Any) -> Any:
            if row["status"] == "deferred":  # an earlier send of the sender needs_locks
                raise NeedsLocks(())
            if row["status"] == "needs_locks":  # the members changed since we looked
                self._remember(row["conversation_id"], row["members"])
                more = [row["conversation_id"], *row["members"]]
                locks.extend(k for k in more if k not in locks)  # held when it runs again
                raise NeedsLocks(more)
            return row

        async def append(c: Conn) -> Any:
            nonlocal carried
            row = checked(
                await c.fetchrow(
                    "SELECT * FROM hubbub_append($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    *arguments(),
                    now_ms(),
                    locks,
                )
            )
            if media_ids and row["status"] == "ok":  # (a refusal undoes the job's savepoint)
                attachments = await attachable(c, sender_id, media_ids, media_since_ms)
                carried = encode_attachments(attachments)
                await c.execute(
                    "UPDATE messages SET attachments = $1"
                    " WHERE conversation_id = $2 AND message_id = $3",
                    carried,
                    row["conversation_id"],
                    row["message_id"],
                )
                await share(c, row["message_id"], row["conversation_id"], media_ids)
            return row

        # one statement cannot fail halfway; with attachments there are three
        bulk = None if media_ids else Bulk(sql.append_many, arguments, lambda r: checked(r[0]))
        row = await self.engine.write(
            append, locks=locks, order=sender_id, savepoint=bool(media_ids), bulk=bulk
        )
        status = row["status"]
        if status in ("no_user", "not_member"):
            raise not_found("no such conversation" if status == "not_member" else "no such user")
        message_id, cid, kind = int(row["message_id"]), int(row["conversation_id"]), row["kind"]
        if status == "duplicate":
            body_then = row["body"]
            return repeated_send(
                None
                if body_then is None
                else (
                    message_id, cid, kind, sender_id, body_then, client_msg_id,
                    await self._attachments_of(cid, message_id),
                ),
                sender_id=sender_id,
                client_msg_id=client_msg_id,
                message_id=message_id,
                conversation_id=cid,
                kind=kind,
            )
        members = [int(m) for m in row["members"]]
        if kind == "group":
            self._remember(cid, members)
        message = message_from_row(
            (message_id, cid, kind, sender_id, body, client_msg_id, carried)
        )
        inbox = dict(zip(members, map(int, row["seqs"]), strict=True))
        return StoredMessage(message, message_id, cid, inbox, pushes=int(row["pushes"] or 0))

    async def _attachments_of(self, conversation_id: int, message_id: int) -> str | None:
        """A repeated send's original attachments (hubbub_append returns only the body)."""

        async def q(c: Conn) -> str | None:
            value = await c.fetchval(
                "SELECT attachments FROM messages WHERE conversation_id = $1"
                " AND message_id = $2",
                conversation_id,
                message_id,
            )
            return str(value) if value is not None else None

        return await self.engine.read(q)

    def _remember(self, conversation_id: int, members: Iterable[int]) -> None:
        if len(self._members) > MEMBERS_CACHED:
            self._members.clear()
        self._members[conversation_id] = tuple(int(m) for m in members)

    async def inbox_head(self, user_id: int) -> int:
        async def q(c: Conn) -> int:
            value = await c.fetchval("SELECT inbox_head FROM users WHERE user_id = $1", user_id)
            return int(value) if value is not None else 0

        return await self.engine.read(q)

    async def inbox_since(self, user_id: int, since: int, limit: int) -> list[InboxEntry]:
        async def q(c: Conn) -> list[InboxEntry]:
            rows = await c.fetch(
                f"SELECT i.seq, {MESSAGE_COLUMNS} FROM inbox i"
                " JOIN messages m ON m.conversation_id = i.conversation_id"
                " AND m.message_id = i.message_id"
                " JOIN conversations c ON c.conversation_id = m.conversation_id"
                " WHERE i.user_id = $1 AND i.seq > $2 ORDER BY i.seq LIMIT $3",
                user_id,
                since,
                limit,
            )
            return [InboxEntry(int(r[0]), message_from_row(tuple(r)[1:])) for r in rows]

        return await self.engine.read(q)

    async def ack(self, user_id: int, device_id: int, seq: int) -> list[Receipt]:
        rows = await self._write_row(sql.ack_many, (user_id, device_id, seq), [user_id])
        if rows and rows[0]["status"] == "past_head":
            raise bad_request(f"ack {seq} is past the inbox head {rows[0]['head']}")
        covered = [
            (int(r["conversation_id"]), int(r["message_id"]), int(r["sender_id"])) for r in rows
        ]
        return fold_receipts("delivered", user_id, covered, now_ms())

    async def mark_read(
        self, user_id: int, conversation_id: int, message_id: int
    ) -> Receipt | None:
        row = (user_id, conversation_id, message_id)
        rows = await self._write_row(sql.read_many, row, [user_id])
        status, senders, cleared = rows[0]["status"], rows[0]["senders"], rows[0]["cleared"]
        if status == "no_conversation":
            raise not_found("no such conversation")
        if status == "no_message":
            raise not_found("no such message in that conversation")
        if status == "old":
            return None
        receipt = read_receipt(
            user_id, conversation_id, message_id, (int(s) for s in senders), now_ms()
        )
        return replace(receipt, pushes=cleared) if cleared else receipt

    # -- retention -------------------------------------------------------------------------

    async def purge_expired(self, now_ms: int) -> tuple[int, int]:
        keep_undelivered_below = first_id_at(now_ms - UNDELIVERED_KEEP_DAYS * DAY_MS)

        async def purge(c: Conn) -> tuple[int, int]:
            # users.inbox_head is the head itself: deleting entries never lowers it.
            # expired_below is first_id_at(now - retention) for each user, in SQL.
            status = await c.execute(
                "DELETE FROM inbox i USING users u"
                " WHERE i.user_id = u.user_id AND u.retention_days IS NOT NULL"
                " AND i.message_id < (greatest($1 - u.retention_days * $2::bigint - $3, 0)"
                " << $4::integer)"
                " AND (i.seq <= u.delivered_seq OR i.message_id < $5)",
                now_ms,
                DAY_MS,
                EPOCH_MS,
                NODE_BITS + SEQ_BITS,
                keep_undelivered_below,
            )
            messages = await c.execute(
                "DELETE FROM messages m WHERE NOT EXISTS (SELECT 1 FROM inbox i"
                " WHERE i.conversation_id = m.conversation_id"
                " AND i.message_id = m.message_id)"
            )
            if sql.rowcount(messages):  # what they carried is no longer shared by them
                await c.execute(
                    "DELETE FROM message_media mm WHERE NOT EXISTS"
                    " (SELECT 1 FROM messages m WHERE m.message_id = mm.message_id)"
                )
            return sql.rowcount(status), sql.rowcount(messages)

        return await self.engine.write(purge)
