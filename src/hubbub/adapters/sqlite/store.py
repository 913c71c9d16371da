"""The Store port on SQLite. Each method is a small SQL function run by the engine:
writes through the group-commit writer, reads on reader threads."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from hubbub.adapters.media_rows import encode_attachments
from hubbub.adapters.rows import (
    DEVICE_COLUMNS,
    FORMER_COLUMNS,
    MESSAGE_COLUMNS,
    USER_COLUMNS,
    folded_name,
    former_from_row,
    message_from_row,
    user_from_row,
)
from hubbub.adapters.sqlite import sql
from hubbub.adapters.sqlite.engine import SqliteEngine
from hubbub.adapters.sqlite.media import SqliteMediaStore, attachable, share
from hubbub.adapters.sqlite.migrations import migrate
from hubbub.adapters.sqlite.push import (
    PushUsers,
    SqlitePushStore,
    enqueue,
    forget_devices,
    queue_read_clears,
)
from hubbub.core.clock import DAY_MS, now_ms
from hubbub.core.errors import HubbubError, bad_request, not_found
from hubbub.core.ids import IdGenerator, first_id_at
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

# a user's inbox head: the newest seq, or the floor retention pinned before deleting entries
_HEAD_SQL = (
    "SELECT max(inbox_head, coalesce((SELECT max(seq) FROM inbox WHERE user_id = ?), 0))"
    " FROM users WHERE user_id = ?"
)


class SqliteStore:
    def __init__(
        self,
        data_dir: Path,
        ids: IdGenerator,
        *,
        readers: int = 2,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "hubbub.sqlite3"
        self.ids = ids
        self.engine = SqliteEngine(
            self.path, readers=readers, on_commit=on_commit, on_rollback=self._forget_cache
        )
        # direct conversations never change members: the writer thread keeps them, keyed
        # by the sorted user pair (touched only by jobs, which run on that one thread)
        self._directs: dict[tuple[int, int], Conversation] = {}
        # each user's inbox head (last seq handed out), also kept by the writer thread:
        # one UPDATE per participant per message was a third of a group send's cost
        self._heads: dict[int, int] = {}
        # each user's delivered watermark (users.delivered_seq), the writer's too: an ack
        # read it back from the table every time, a statement of an ack's four
        self._delivered: dict[int, int] = {}
        # who has push subscriptions, also the writer's (see adapters/sqlite/push.py)
        self._push_users = PushUsers()
        self.push = SqlitePushStore(self.engine, self._push_users)
        self.media = SqliteMediaStore(self.engine)

    def _forget_cache(self) -> None:
        self._directs.clear()
        self._heads.clear()
        self._delivered.clear()
        self._push_users.forget()

    def _head(self, c: sqlite3.Connection, user_id: int) -> int:
        head = self._heads.get(user_id)
        if head is None:
            head = self._heads[user_id] = int(
                c.execute(_HEAD_SQL, (user_id, user_id)).fetchone()[0]
            )
        return head

    async def open(self) -> None:
        self.engine.start(migrate)

    async def close(self) -> None:
        await self.engine.stop()

    def _new_id(self) -> int:
        return self.ids.next_id(now_ms())

    # -- accounts and devices ----------------------------------------------------------

    async def create_user(self, username: str, password_hash: str, display_name: str) -> User:
        user_id = self._new_id()

        def insert(c: sqlite3.Connection) -> User:
            try:
                c.execute(
                    "INSERT INTO users (user_id, username, display_name, password_hash,"
                    " created_at, name_key) VALUES (?, ?, ?, ?, ?, ?)",
                    (user_id, username, display_name, password_hash, now_ms(),
                     folded_name(display_name)),
                )
            except sqlite3.IntegrityError:
                raise HubbubError("conflict", "that username is taken") from None
            return User(user_id, username, display_name, None)

        return await self.engine.write(insert)

    async def user_by_id(self, user_id: int) -> User | None:
        def q(c: sqlite3.Connection) -> User | None:
            row = c.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
            return user_from_row(row) if row else None

        return await self.engine.read(q)

    async def users_by_ids(self, user_ids: Sequence[int]) -> list[User]:
        def q(c: sqlite3.Connection) -> list[User]:
            marks = ",".join("?" * len(user_ids))
            rows = c.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE user_id IN ({marks})", tuple(user_ids)
            ).fetchall()
            return [user_from_row(r) for r in rows]

        return await self.engine.read(q) if user_ids else []

    async def search_users(self, prefix: str, limit: int) -> list[User]:
        low, high = prefix, prefix + "\U0010ffff"  # a range: each side uses its index

        def q(c: sqlite3.Connection) -> list[User]:
            rows = c.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE username >= ? AND username < ?"
                f" UNION SELECT {USER_COLUMNS} FROM users"
                " WHERE name_key >= ? AND name_key < ?"
                " ORDER BY username LIMIT ?",
                (low, high, low, high, limit),
            ).fetchall()
            return [user_from_row(r) for r in rows]

        return await self.engine.read(q)

    async def user_by_name(self, username: str) -> User | None:
        def q(c: sqlite3.Connection) -> User | None:
            row = c.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,)
            ).fetchone()
            return user_from_row(row) if row else None

        return await self.engine.read(q)

    async def password_hash(self, username: str) -> tuple[int, str] | None:
        def q(c: sqlite3.Connection) -> tuple[int, str] | None:
            row = c.execute(
                "SELECT user_id, password_hash FROM users WHERE username = ?", (username,)
            ).fetchone()
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
        def update(c: sqlite3.Connection) -> User:
            if group_adds is not None:
                c.execute(
                    "UPDATE users SET group_adds = ? WHERE user_id = ?", (group_adds, user_id)
                )
            if display_name is not None:
                c.execute(
                    "UPDATE users SET display_name = ?, name_key = ? WHERE user_id = ?",
                    (display_name, folded_name(display_name), user_id),
                )
            if set_retention:
                c.execute(
                    "UPDATE users SET retention_days = ? WHERE user_id = ?",
                    (retention_days, user_id),
                )
            row = c.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
            if row is None:
                raise not_found("no such user")
            return user_from_row(row)

        return await self.engine.write(update)

    async def set_avatar(self, user_id: int, media_id: int | None, since_ms: int) -> User:
        def update(c: sqlite3.Connection) -> User:
            if media_id is not None:
                row = c.execute(
                    "SELECT content_type FROM media"
                    " WHERE media_id = ? AND uploader_id = ? AND created_at >= ?",
                    (media_id, user_id, since_ms),
                ).fetchone()
                if row is None:
                    raise not_found(NOT_AVATAR_SOURCE)
                check_avatar_type(row[0])
            row = c.execute(
                f"UPDATE users SET avatar_media_id = ? WHERE user_id = ? RETURNING {USER_COLUMNS}",
                (media_id, user_id),
            ).fetchone()
            if row is None:
                raise not_found("no such user")
            return user_from_row(row)

        return await self.engine.write(update)

    async def create_device(
        self, user_id: int, name: str, token_hash: bytes, max_devices: int
    ) -> tuple[Device, list[int]]:
        device_id = self._new_id()

        def insert(c: sqlite3.Connection) -> tuple[Device, list[int]]:
            now = now_ms()
            evicted = [
                r[0]
                for r in c.execute(
                    "SELECT device_id FROM devices WHERE user_id = ? AND revoked_at IS NULL"
                    " ORDER BY max(last_used_at, created_at) DESC, device_id DESC"
                    " LIMIT -1 OFFSET ?",
                    (user_id, max_devices - 1),
                )
            ]
            c.executemany(
                "UPDATE devices SET revoked_at = ? WHERE device_id = ?",
                [(now, d) for d in evicted],
            )
            forget_devices(c, evicted)
            c.execute(
                "INSERT INTO devices (device_id, user_id, name, token_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (device_id, user_id, name, token_hash, now),
            )
            return Device(device_id, user_id, name, now, 0), evicted

        return await self.engine.write(insert)

    async def device_by_token(self, token_hash: bytes) -> Device | None:
        def q(c: sqlite3.Connection) -> Device | None:
            row = c.execute(
                f"SELECT {DEVICE_COLUMNS} FROM devices"
                " WHERE token_hash = ? AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
            return Device(*row) if row else None

        return await self.engine.read(q)

    async def devices(self, user_id: int) -> list[Device]:
        def q(c: sqlite3.Connection) -> list[Device]:
            rows = c.execute(
                f"SELECT {DEVICE_COLUMNS} FROM devices"
                " WHERE user_id = ? AND revoked_at IS NULL"
                " ORDER BY max(last_used_at, created_at) DESC, device_id DESC",
                (user_id,),
            ).fetchall()
            return [Device(*r) for r in rows]

        return await self.engine.read(q)

    async def touch_device(self, user_id: int, device_id: int, now_ms: int) -> None:
        await self.engine.write(
            lambda c: c.execute(
                "UPDATE devices SET last_used_at = max(last_used_at, ?) WHERE device_id = ?",
                (now_ms, device_id),
            )
        )

    async def replace_token(self, user_id: int, device_id: int, token_hash: bytes) -> bool:
        def replace(c: sqlite3.Connection) -> bool:
            return (
                c.execute(
                    "UPDATE devices SET token_hash = ? WHERE device_id = ? AND revoked_at IS NULL",
                    (token_hash, device_id),
                ).rowcount
                == 1
            )

        return await self.engine.write(replace)

    async def revoke_device(self, user_id: int, device_id: int) -> None:
        def revoke(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
                (now_ms(), device_id),
            )
            forget_devices(c, [device_id])  # logout removes the device's push subscriptions

        await self.engine.write(revoke)

    # -- contacts and presence ----------------------------------------------------------

    async def put_contact(self, owner_id: int, contact_id: int) -> None:
        def put(c: sqlite3.Connection) -> None:
            if not c.execute("SELECT 1 FROM users WHERE user_id = ?", (contact_id,)).fetchone():
                raise not_found("no such user")
            c.execute(
                "INSERT OR IGNORE INTO contacts VALUES (?, ?, ?)", (owner_id, contact_id, now_ms())
            )

        await self.engine.write(put)

    async def delete_contact(self, owner_id: int, contact_id: int) -> None:
        await self.engine.write(
            lambda c: c.execute(
                "DELETE FROM contacts WHERE owner_id = ? AND contact_id = ?", (owner_id, contact_id)
            )
        )

    async def contacts(self, owner_id: int) -> list[tuple[User, int]]:
        def q(c: sqlite3.Connection) -> list[tuple[User, int]]:
            rows = c.execute(
                "SELECT u.user_id, u.username, u.display_name, u.retention_days, u.group_adds,"
                " u.avatar_media_id, u.last_active_at FROM contacts k"
                " JOIN users u ON u.user_id = k.contact_id"
                " WHERE k.owner_id = ? ORDER BY u.username",
                (owner_id,),
            ).fetchall()
            return [(user_from_row(r[:6]), r[6]) for r in rows]

        return await self.engine.read(q)

    async def watchers(self, user_id: int) -> list[int]:
        def q(c: sqlite3.Connection) -> list[int]:
            rows = c.execute("SELECT owner_id FROM contacts WHERE contact_id = ?", (user_id,))
            return [r[0] for r in rows]

        return await self.engine.read(q)

    async def last_active(self, user_id: int) -> int:
        def q(c: sqlite3.Connection) -> int:
            row = c.execute(
                "SELECT last_active_at FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
            return int(row[0]) if row else 0

        return await self.engine.read(q)

    async def set_last_active(self, user_id: int, ts: int) -> None:
        await self.engine.write(
            lambda c: c.execute(
                "UPDATE users SET last_active_at = max(last_active_at, ?) WHERE user_id = ?",
                (ts, user_id),
            )
        )

    # -- conversations and groups --------------------------------------------------------

    async def direct_conversation(self, user_id: int, peer_id: int) -> Conversation:
        return await self.engine.write(lambda c: self._direct_cached(c, user_id, peer_id))

    def _direct_cached(self, c: sqlite3.Connection, user_id: int, peer_id: int) -> Conversation:
        low, high = sorted((user_id, peer_id))
        conv = self._directs.get((low, high))
        if conv is None:
            conv, created = sql.direct(c, user_id, peer_id, self._new_id)
            # a row this job inserted may still be rolled back with it: cache it next time
            # (found, it belongs to an earlier job, undone only if the whole commit fails,
            # and then the engine empties the cache)
            if not created:
                self._directs[(low, high)] = conv
        return conv

    async def create_group(
        self, owner_id: int, name: str, member_ids: Sequence[int]
    ) -> Conversation:
        group_id = self._new_id()
        members = tuple(member_ids)

        def create(c: sqlite3.Connection) -> Conversation:
            sql.admit(c, owner_id, members)
            now = now_ms()
            c.execute(
                "INSERT INTO conversations (conversation_id, kind, name, owner_id, created_at)"
                " VALUES (?, 'group', ?, ?, ?)",
                (group_id, name, owner_id, now),
            )
            c.executemany(
                "INSERT INTO members (conversation_id, user_id, joined_at) VALUES (?, ?, ?)",
                [(group_id, m, now) for m in members],
            )
            return Conversation(group_id, "group", members, name, owner_id)

        return await self.engine.write(create)

    async def add_member(
        self, group_id: int, actor_id: int, user_id: int, max_members: int
    ) -> Conversation:
        def add(c: sqlite3.Connection) -> Conversation:
            group = group_for_change(sql.conversation(c, group_id), actor_id)
            if not may_add(group, user_id, max_members):
                return group
            sql.admit(c, actor_id, [user_id])
            c.execute(
                "INSERT INTO members (conversation_id, user_id, joined_at) VALUES (?, ?, ?)",
                (group_id, user_id, now_ms()),
            )
            c.execute(  # back in: a member again, not a former one
                "DELETE FROM former_members WHERE conversation_id = ? AND user_id = ?",
                (group_id, user_id),
            )
            return sql.conversation(c, group_id) or group

        return await self.engine.write(add)

    async def remove_member(self, group_id: int, actor_id: int, user_id: int) -> Conversation:
        def remove(c: sqlite3.Connection) -> Conversation:
            before = group_for_change(sql.conversation(c, group_id), actor_id)
            after = after_removal(before, actor_id, user_id)
            (last_message_id,) = c.execute(
                "SELECT last_message_id FROM conversations WHERE conversation_id = ?",
                (group_id,),
            ).fetchone()
            former = departure(before, actor_id, user_id, last_message_id, now_ms())
            c.execute(
                "DELETE FROM members WHERE conversation_id = ? AND user_id = ?", (group_id, user_id)
            )
            c.execute(
                f"INSERT OR REPLACE INTO former_members ({FORMER_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (former.conversation_id, former.user_id, former.how, former.upto, former.name,
                 former.departed_at),
            )  # fmt: skip
            if after.owner_id != before.owner_id:
                c.execute(
                    "UPDATE conversations SET owner_id = ? WHERE conversation_id = ?",
                    (after.owner_id, group_id),
                )
            return after

        return await self.engine.write(remove)

    async def rename_group(self, group_id: int, actor_id: int, name: str) -> Conversation:
        def rename(c: sqlite3.Connection) -> Conversation:
            group = group_for_change(sql.conversation(c, group_id), actor_id)
            c.execute(
                "UPDATE conversations SET name = ? WHERE conversation_id = ?", (name, group_id)
            )
            return replace(group, name=name)

        return await self.engine.write(rename)

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self.engine.read(lambda c: sql.conversation(c, conversation_id))

    async def former_membership(
        self, user_id: int, conversation_id: int
    ) -> FormerMembership | None:
        def q(c: sqlite3.Connection) -> FormerMembership | None:
            row = c.execute(
                f"SELECT {FORMER_COLUMNS} FROM former_members"
                " WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ).fetchone()
            return former_from_row(row) if row else None

        return await self.engine.read(q)

    async def former_memberships(self, user_id: int) -> list[FormerMembership]:
        def q(c: sqlite3.Connection) -> list[FormerMembership]:
            rows = c.execute(
                f"SELECT {FORMER_COLUMNS} FROM former_members WHERE user_id = ?", (user_id,)
            ).fetchall()
            return [former_from_row(r) for r in rows]

        return await self.engine.read(q)

    async def forget_former(self, user_id: int, conversation_id: int) -> bool:
        def forget(c: sqlite3.Connection) -> bool:
            return (
                c.execute(
                    "DELETE FROM former_members WHERE conversation_id = ? AND user_id = ?",
                    (conversation_id, user_id),
                ).rowcount
                == 1
            )

        return await self.engine.write(forget)

    async def conversations(
        self, user_id: int, not_before_ms: int = 0
    ) -> list[ConversationSummary]:
        lower = first_id_at(not_before_ms)

        return await self.engine.read(lambda c: sql.summaries(c, user_id, lower))

    async def history(
        self, conversation_id: int, before: int | None, limit: int, not_before_ms: int
    ) -> list[Message]:
        upper = before if before is not None else (1 << 63) - 1
        lower = first_id_at(not_before_ms)

        def q(c: sqlite3.Connection) -> list[Message]:
            rows = c.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages m"
                " JOIN conversations c USING (conversation_id)"
                " WHERE m.conversation_id = ? AND m.message_id < ? AND m.message_id >= ?"
                " ORDER BY m.message_id DESC LIMIT ?",
                (conversation_id, upper, lower, limit),
            ).fetchall()
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
        def append(c: sqlite3.Connection) -> StoredMessage:
            # 1. the conversation, and the sender's right to write in it (a repeat of a
            # send to a group the sender has left still gets its original: 2.)
            if to_user is not None:
                conv = self._direct_cached(c, sender_id, to_user)
            else:
                assert conversation_id is not None
                found = sql.conversation(c, conversation_id)
                if found is None or sender_id not in found.member_ids:
                    seen = sql.sent_key(c, sender_id, client_msg_id)
                    if seen:
                        return sql.original(c, sender_id, client_msg_id, *seen)
                    raise not_found("no such conversation")
                conv = found
            # 2. id (time-ordered: conversation order is id order) and idempotency in one
            # statement: a repeated client_msg_id inserts nothing and gets the original
            message_id = self._new_id()
            cid = conv.conversation_id
            if not c.execute(
                "INSERT INTO sent_keys VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (sender_id, client_msg_id, message_id, cid),
            ).rowcount:
                seen = sql.sent_key(c, sender_id, client_msg_id)
                assert seen is not None
                return sql.original(c, sender_id, client_msg_id, *seen)
            # 3. what it carries: the sender's own recent uploads
            carried = None
            if media_ids:
                attachments = attachable(c, sender_id, media_ids, media_since_ms)
                carried = encode_attachments(attachments)
            # 4. the message
            c.execute(
                "INSERT INTO messages (message_id, conversation_id, sender_id, client_msg_id,"
                " body, attachments) VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, cid, sender_id, client_msg_id, body, carried),
            )
            if media_ids:
                share(c, message_id, cid, media_ids)
            c.execute(
                "UPDATE conversations SET last_message_id = ? WHERE conversation_id = ?",
                (message_id, cid),
            )
            # 5. one inbox entry per participant, seq = that user's head + 1
            inbox = {member: self._head(c, member) + 1 for member in conv.member_ids}
            c.executemany(
                "INSERT INTO inbox VALUES (?, ?, ?)",
                [(member, seq, message_id) for member, seq in inbox.items()],
            )
            # 6. push jobs in the same commit (only for recipients with subscriptions)
            pushes = enqueue(c, self._push_users, sender_id, cid, message_id, inbox)
            self._heads.update(inbox)  # last: a job that raised above changed nothing
            message = message_from_row(
                (message_id, cid, conv.kind, sender_id, body, client_msg_id, carried)
            )
            return StoredMessage(message, message_id, cid, inbox, pushes=pushes)

        return await self.engine.write(append)

    async def inbox_head(self, user_id: int) -> int:
        def q(c: sqlite3.Connection) -> int:
            row = c.execute(_HEAD_SQL, (user_id, user_id)).fetchone()
            return int(row[0]) if row else 0

        return await self.engine.read(q)

    async def inbox_since(self, user_id: int, since: int, limit: int) -> list[InboxEntry]:
        def q(c: sqlite3.Connection) -> list[InboxEntry]:
            rows = c.execute(
                f"SELECT i.seq, {MESSAGE_COLUMNS} FROM inbox i"
                " JOIN messages m ON m.message_id = i.message_id"
                " JOIN conversations c ON c.conversation_id = m.conversation_id"
                " WHERE i.user_id = ? AND i.seq > ? ORDER BY i.seq LIMIT ?",
                (user_id, since, limit),
            ).fetchall()
            return [InboxEntry(r[0], message_from_row(r[1:])) for r in rows]

        return await self.engine.read(q)

    async def ack(self, user_id: int, device_id: int, seq: int) -> list[Receipt]:
        def ack(c: sqlite3.Connection) -> list[Receipt]:
            head = self._head(c, user_id)
            delivered = self._delivered.get(user_id)
            if delivered is None:
                (delivered,) = c.execute(
                    "SELECT delivered_seq FROM users WHERE user_id = ?", (user_id,)
                ).fetchone()
                self._delivered[user_id] = delivered
            if seq > head:
                raise bad_request(f"ack {seq} is past the inbox head {head}")
            c.execute(
                "UPDATE devices SET acked_seq = max(acked_seq, ?) WHERE device_id = ?",
                (seq, device_id),
            )
            if seq <= delivered:
                return []
            c.execute("UPDATE users SET delivered_seq = ? WHERE user_id = ?", (seq, user_id))
            covered = c.execute(
                "SELECT m.conversation_id, m.message_id, m.sender_id FROM inbox i"
                " JOIN messages m ON m.message_id = i.message_id"
                " WHERE i.user_id = ? AND i.seq > ? AND i.seq <= ?",
                (user_id, delivered, seq),
            ).fetchall()
            self._delivered[user_id] = seq  # last: a job that raised changed nothing
            return fold_receipts("delivered", user_id, covered, now_ms())

        return await self.engine.write(ack)

    async def mark_read(
        self, user_id: int, conversation_id: int, message_id: int
    ) -> Receipt | None:
        def read(c: sqlite3.Connection) -> Receipt | None:
            row = c.execute(
                "SELECT read_upto FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ).fetchone()
            if row is None:
                raise not_found("no such conversation")
            if not c.execute(
                "SELECT 1 FROM messages WHERE message_id = ? AND conversation_id = ?",
                (message_id, conversation_id),
            ).fetchone():
                raise not_found("no such message in that conversation")
            read_upto = row[0]
            if message_id <= read_upto:
                return None
            senders = c.execute(
                "SELECT DISTINCT sender_id FROM messages WHERE conversation_id = ?"
                " AND message_id > ? AND message_id <= ? AND sender_id != ?",
                (conversation_id, read_upto, message_id, user_id),
            ).fetchall()
            c.execute(
                "UPDATE members SET read_upto = ? WHERE conversation_id = ? AND user_id = ?",
                (message_id, conversation_id, user_id),
            )
            receipt = read_receipt(
                user_id, conversation_id, message_id, (s[0] for s in senders), now_ms()
            )
            cleared = queue_read_clears(c, self._push_users, user_id, conversation_id, message_id)
            return replace(receipt, pushes=cleared) if cleared else receipt

        return await self.engine.write(read)

    # -- retention -------------------------------------------------------------------------

    async def purge_expired(self, now_ms: int) -> tuple[int, int]:
        keep_undelivered_below = first_id_at(now_ms - UNDELIVERED_KEEP_DAYS * DAY_MS)

        def purge(c: sqlite3.Connection) -> tuple[int, int]:
            # the head is max(users.inbox_head, newest seq): pin it before entries go
            c.execute(
                "UPDATE users SET inbox_head = max(inbox_head, coalesce("
                "(SELECT max(seq) FROM inbox i WHERE i.user_id = users.user_id), 0))"
                " WHERE retention_days IS NOT NULL"
            )
            entries = 0
            users = c.execute(
                "SELECT user_id, retention_days, delivered_seq FROM users"
                " WHERE retention_days IS NOT NULL"
            ).fetchall()
            for user_id, days, delivered in users:
                expired_below = first_id_at(now_ms - days * DAY_MS)
                entries += c.execute(
                    "DELETE FROM inbox WHERE user_id = ? AND message_id < ?"
                    " AND (seq <= ? OR message_id < ?)",
                    (user_id, expired_below, delivered, keep_undelivered_below),
                ).rowcount
            messages = c.execute(
                "DELETE FROM messages WHERE NOT EXISTS"
                " (SELECT 1 FROM inbox i WHERE i.message_id = messages.message_id)"
            ).rowcount
            if messages:  # what they carried is no longer shared by them
                c.execute(
                    "DELETE FROM message_media WHERE NOT EXISTS"
                    " (SELECT 1 FROM messages m WHERE m.message_id = message_media.message_id)"
                )
            return entries, messages

        return await self.engine.write(purge)
