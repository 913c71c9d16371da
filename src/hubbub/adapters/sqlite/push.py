"""The PushStore port on SQLite, sharing the Store's engine (one writer thread).

The outbox is written inside the message's own job (`enqueue`, called by
SqliteStore.append_message), so a message and its push jobs commit together: a crash
after the commit loses no push. What it costs a user without subscriptions: nothing but a
set lookup. The writer keeps the set of users who have (or may have) a subscription;
it only grows between rollbacks (a superset is safe: an extra lookup finds nothing), and
any rollback of the writer empties it so it is read again.

One node, one writer: claims run on the writer thread, so two claims never overlap, and
a lease only matters after a crash (rows leased by the dead process are due again when
the lease runs out).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from hubbub.adapters.push_rows import JOB_COLUMNS, SUBSCRIPTION_COLUMNS, job_from_row
from hubbub.adapters.push_rows import subscription_from_row as sub_row
from hubbub.adapters.sqlite.engine import SqliteEngine
from hubbub.core.clock import now_ms
from hubbub.core.push import PREVIEW_LEVELS, PreviewLevel, PushJob, Subscription

UNREAD_SQL = (
    "SELECT count(*) FROM members mem JOIN messages m ON m.conversation_id ="
    " mem.conversation_id AND m.message_id > mem.read_upto AND m.sender_id != mem.user_id"
    " WHERE mem.user_id = ?"
)
# a newer message collapses into the pending row: it keeps the row's backoff (due_at) and
# lease (a send in flight finishes, then `done` sees the newer version and frees the row)
_UPSERT = (
    " ON CONFLICT (subscription_id, conversation_id, kind) DO UPDATE SET"
    " message_id = excluded.message_id, seq = excluded.seq, created_at = excluded.created_at,"
    " due_at = max(due_at, excluded.due_at), version = version + 1"
)


class PushUsers:
    """The writer thread's set of users with subscriptions (None: read it again)."""

    def __init__(self) -> None:
        self.users: set[int] | None = None

    def get(self, c: sqlite3.Connection) -> set[int]:
        if self.users is None:
            self.users = {r[0] for r in c.execute("SELECT user_id FROM push_subscriptions")}
        return self.users

    def forget(self) -> None:
        self.users = None


def enqueue(
    c: sqlite3.Connection,
    users: PushUsers,
    sender_id: int,
    conversation_id: int,
    message_id: int,
    inbox: dict[int, int],
) -> int:
    """Inside the message's job: one outbox row per subscription of each recipient but the
    sender (collapsed per conversation). The number of rows written."""
    known = users.get(c)
    if known.isdisjoint(inbox):  # the usual case without subscribers: one C-level check
        return 0
    targets = [(u, seq) for u, seq in inbox.items() if u != sender_id and u in known]
    if not targets:
        return 0
    now = now_ms()
    written = 0
    for user_id, seq in targets:
        written += c.execute(
            "INSERT INTO push_outbox (subscription_id, conversation_id, kind, user_id,"
            " device_id, message_id, seq, created_at, due_at)"
            " SELECT subscription_id, ?, 'message', user_id, device_id, ?, ?, ?, ?"
            " FROM push_subscriptions WHERE user_id = ? AND true" + _UPSERT,
            (conversation_id, message_id, seq, now, now, user_id),
        ).rowcount
    return written


def queue_read_clears(
    c: sqlite3.Connection, users: PushUsers, user_id: int, conversation_id: int, message_id: int
) -> int:
    """Inside the read's job: a `read` job for each subscription of the user that was shown
    a push for the conversation (and those forgotten). The number queued."""
    if user_id not in users.get(c):
        return 0  # a user without subscriptions was shown nothing
    now = now_ms()
    queued = int(
        c.execute(
            "INSERT INTO push_outbox (subscription_id, conversation_id, kind, user_id,"
            " device_id, message_id, seq, created_at, due_at)"
            " SELECT s.subscription_id, ?, 'read', s.user_id, s.device_id, ?, 0, ?, ?"
            " FROM push_shown p JOIN push_subscriptions s USING (subscription_id)"
            " WHERE p.user_id = ? AND p.conversation_id = ? AND true" + _UPSERT,
            (conversation_id, message_id, now, now, user_id, conversation_id),
        ).rowcount
    )
    c.execute(
        "DELETE FROM push_shown WHERE user_id = ? AND conversation_id = ?",
        (user_id, conversation_id),
    )
    return queued


def forget_devices(c: sqlite3.Connection, device_ids: Iterable[int]) -> None:
    """Logged-out devices lose their subscriptions and pending pushes (same job)."""
    for device_id in device_ids:
        subs = [
            r[0]
            for r in c.execute(
                "SELECT subscription_id FROM push_subscriptions WHERE device_id = ?",
                (device_id,),
            )
        ]
        for sid in subs:
            _delete_subscription(c, sid)


def _delete_subscription(c: sqlite3.Connection, subscription_id: int) -> None:
    c.execute("DELETE FROM push_outbox WHERE subscription_id = ?", (subscription_id,))
    c.execute("DELETE FROM push_shown WHERE subscription_id = ?", (subscription_id,))
    c.execute("DELETE FROM push_subscriptions WHERE subscription_id = ?", (subscription_id,))


class SqlitePushStore:
    def __init__(self, engine: SqliteEngine, users: PushUsers) -> None:
        self.engine = engine
        self.users = users

    async def vapid_keys(self, private_key: str, public_key: str) -> tuple[str, str]:
        def keep(c: sqlite3.Connection) -> tuple[str, str]:
            c.execute(
                "INSERT OR IGNORE INTO push_keys VALUES ('vapid', ?, ?, ?)",
                (private_key, public_key, now_ms()),
            )
            row = c.execute(
                "SELECT private_key, public_key FROM push_keys WHERE name = 'vapid'"
            ).fetchone()
            return row[0], row[1]

        return await self.engine.write(keep)

    async def subscribe(self, sub: Subscription) -> Subscription:
        def put(c: sqlite3.Connection) -> Subscription:
            old = c.execute(
                "SELECT subscription_id FROM push_subscriptions WHERE device_id = ? AND kind = ?",
                (sub.device_id, sub.kind),
            ).fetchone()
            if old:
                _delete_subscription(c, old[0])
            c.execute(
                "INSERT INTO push_subscriptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sub.subscription_id, sub.user_id, sub.device_id, sub.kind, sub.endpoint,
                    sub.p256dh, sub.auth, sub.token, sub.topic, sub.created_at,
                ),
            )  # fmt: skip
            self.users.get(c).add(sub.user_id)
            return sub

        return await self.engine.write(put)

    async def subscriptions(self, user_id: int) -> list[Subscription]:
        def q(c: sqlite3.Connection) -> list[Subscription]:
            rows = c.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions s"
                " WHERE s.user_id = ? ORDER BY s.subscription_id",
                (user_id,),
            ).fetchall()
            return [sub_row(r) for r in rows]

        return await self.engine.read(q)

    async def unsubscribe(self, user_id: int, subscription_id: int) -> bool:
        def delete(c: sqlite3.Connection) -> bool:
            if not c.execute(
                "SELECT 1 FROM push_subscriptions WHERE subscription_id = ? AND user_id = ?",
                (subscription_id, user_id),
            ).fetchone():
                return False
            _delete_subscription(c, subscription_id)
            return True

        return await self.engine.write(delete)

    async def drop_subscription(self, subscription_id: int) -> None:
        await self.engine.write(lambda c: _delete_subscription(c, subscription_id))

    async def preview(self, user_id: int) -> PreviewLevel:
        def q(c: sqlite3.Connection) -> PreviewLevel:
            row = c.execute("SELECT push_preview FROM users WHERE user_id = ?", (user_id,))
            found = row.fetchone()
            return found[0] if found and found[0] in PREVIEW_LEVELS else "sender"

        return await self.engine.read(q)

    async def set_preview(self, user_id: int, level: PreviewLevel) -> None:
        await self.engine.write(
            lambda c: c.execute(
                "UPDATE users SET push_preview = ? WHERE user_id = ?", (level, user_id)
            )
        )

    async def set_muted(self, user_id: int, conversation_id: int, muted_until: int) -> bool:
        def mute(c: sqlite3.Connection) -> bool:
            return (
                c.execute(
                    "UPDATE members SET muted_until = ? WHERE conversation_id = ? AND user_id = ?",
                    (muted_until, conversation_id, user_id),
                ).rowcount
                == 1
            )

        return await self.engine.write(mute)

    async def muted_until(self, user_id: int, conversation_id: int) -> int | None:
        def q(c: sqlite3.Connection) -> int | None:
            row = c.execute(
                "SELECT muted_until FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ).fetchone()
            return int(row[0]) if row else None

        return await self.engine.read(q)

    async def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[PushJob]:
        def take(c: sqlite3.Connection) -> list[PushJob]:
            rows = c.execute(
                f"SELECT {JOB_COLUMNS}, o.user_id, o.subscription_id, s.subscription_id IS NULL"
                " FROM push_outbox o"
                " LEFT JOIN push_subscriptions s ON s.subscription_id = o.subscription_id"
                " LEFT JOIN devices d ON d.device_id = o.device_id"
                " LEFT JOIN members mem ON mem.conversation_id = o.conversation_id"
                " AND mem.user_id = o.user_id"
                " LEFT JOIN users u ON u.user_id = o.user_id"
                " LEFT JOIN conversations c ON c.conversation_id = o.conversation_id"
                " LEFT JOIN messages m ON m.message_id = o.message_id AND o.kind = 'message'"
                " LEFT JOIN users su ON su.user_id = m.sender_id"
                " WHERE o.due_at <= ? AND o.lease_until <= ? ORDER BY o.due_at LIMIT ?",
                (now_ms, now_ms, limit),
            ).fetchall()
            jobs: list[PushJob] = []
            unread: dict[int, int] = {}
            for row in rows:
                *job_row, user_id, sid, orphan = row
                if orphan:  # its subscription went (the row raced a delete): drop it
                    c.execute("DELETE FROM push_outbox WHERE subscription_id = ?", (sid,))
                    continue
                if user_id not in unread:
                    unread[user_id] = c.execute(UNREAD_SQL, (user_id,)).fetchone()[0]
                jobs.append(job_from_row(job_row, unread[user_id]))
            c.executemany(
                "UPDATE push_outbox SET lease_until = ? WHERE subscription_id = ?"
                " AND conversation_id = ? AND kind = ?",
                [
                    (now_ms + lease_ms, j.subscription.subscription_id, j.conversation_id, j.kind)
                    for j in jobs
                ],
            )
            return jobs

        return await self.engine.write(take)

    async def done(self, job: PushJob, *, shown: bool) -> None:
        def finish(c: sqlite3.Connection) -> None:
            sid = job.subscription.subscription_id
            key = (sid, job.conversation_id, job.kind)
            c.execute(
                "DELETE FROM push_outbox WHERE subscription_id = ? AND conversation_id = ?"
                " AND kind = ? AND version = ?",
                (*key, job.version),
            )
            # a newer message collapsed into it meanwhile: due now, for that one
            c.execute(
                "UPDATE push_outbox SET lease_until = 0 WHERE subscription_id = ?"
                " AND conversation_id = ? AND kind = ?",
                key,
            )
            if shown:
                c.execute(
                    "INSERT OR IGNORE INTO push_shown VALUES (?, ?, ?)",
                    (job.subscription.user_id, job.conversation_id, sid),
                )

        await self.engine.write(finish)

    async def retry(self, job: PushJob, due_at: int) -> None:
        await self._reschedule(job, due_at, 1)

    async def postpone(self, job: PushJob, due_at: int) -> None:
        await self._reschedule(job, due_at, 0)

    async def _reschedule(self, job: PushJob, due_at: int, more: int) -> None:
        # whatever version the row has now: a message that collapsed into it waits too
        key = (job.subscription.subscription_id, job.conversation_id, job.kind)
        await self.engine.write(
            lambda c: c.execute(
                "UPDATE push_outbox SET due_at = ?, lease_until = 0, attempts = attempts + ?"
                " WHERE subscription_id = ? AND conversation_id = ? AND kind = ?",
                (due_at, more, *key),
            )
        )

    async def depth(self) -> int:
        return int(
            await self.engine.read(
                lambda c: c.execute("SELECT count(*) FROM push_outbox").fetchone()[0]
            )
        )
