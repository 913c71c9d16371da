"""The PushStore port on PostgreSQL, sharing the Store's engine.

The outbox rows of a message are written by hubbub_append itself (migration 4), in the
message's statement and commit, under the advisory locks of every member that the batch
already holds. A user without subscriptions costs an index probe on
push_subscriptions(user_id) inside that same round trip.

Claims: one statement on a pooled connection, outside the writer's batches:
`SELECT ... FOR UPDATE SKIP LOCKED` picks due rows no other transaction holds, and the
same statement leases them (`lease_until`), then commits. Each push is claimed by one node;
a node that dies holding a lease has its rows retaken once the lease runs out.

Why no deadlock with the message path: the claim and the worker's other statements
(done, retry, postpone, drop) are single statements in their own transactions that take
no advisory lock. The claim never waits (SKIP LOCKED; rows it leases are its own). The
others may wait for a batch that upserted the same outbox row, but they hold nothing that
batch could wait for, and the batch waits for nothing once it holds its advisory locks.
A claim inside a batch could deadlock (two batches each leasing a row the other then
upserts), which is why claims never run there. Subscriptions, previews and mutes are
written by batches under the user's advisory lock, like the user's other rows.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

from hubbub.adapters.postgres.engine import PostgresEngine
from hubbub.adapters.push_rows import JOB_COLUMNS, SUBSCRIPTION_COLUMNS, job_from_row
from hubbub.adapters.push_rows import subscription_from_row as sub_row
from hubbub.core.clock import now_ms
from hubbub.core.push import PREVIEW_LEVELS, PreviewLevel, PushJob, Subscription

Conn: TypeAlias = asyncpg.Connection
UNREAD_SQL = (
    "SELECT mem.user_id, count(m.message_id) FROM members mem JOIN messages m ON"
    " m.conversation_id = mem.conversation_id AND m.message_id > mem.read_upto"
    " AND m.sender_id != mem.user_id WHERE mem.user_id = ANY($1::bigint[]) GROUP BY mem.user_id"
)
_CLAIM_SQL = f"""
WITH due AS (
    SELECT subscription_id, conversation_id, kind FROM push_outbox
    WHERE due_at <= $1 AND lease_until <= $1 ORDER BY due_at LIMIT $2
    FOR UPDATE SKIP LOCKED
), o AS (
    UPDATE push_outbox x SET lease_until = $1 + $3 FROM due
    WHERE x.subscription_id = due.subscription_id AND x.conversation_id = due.conversation_id
      AND x.kind = due.kind
    RETURNING x.*
)
SELECT {JOB_COLUMNS}, o.user_id, o.subscription_id AS owned, s.subscription_id IS NULL
FROM o
LEFT JOIN push_subscriptions s ON s.subscription_id = o.subscription_id
LEFT JOIN devices d ON d.device_id = o.device_id
LEFT JOIN members mem ON mem.conversation_id = o.conversation_id AND mem.user_id = o.user_id
LEFT JOIN users u ON u.user_id = o.user_id
LEFT JOIN conversations c ON c.conversation_id = o.conversation_id
LEFT JOIN messages m ON m.conversation_id = o.conversation_id AND m.message_id = o.message_id
    AND o.kind = 'message'
LEFT JOIN users su ON su.user_id = m.sender_id
ORDER BY o.due_at
"""
_DELETE_SUBSCRIPTION = """
WITH gone AS (DELETE FROM push_subscriptions WHERE subscription_id = $1 {extra}
              RETURNING subscription_id),
     jobs AS (DELETE FROM push_outbox WHERE subscription_id IN (SELECT * FROM gone)),
     shown AS (DELETE FROM push_shown WHERE subscription_id IN (SELECT * FROM gone))
SELECT count(*) FROM gone
"""


async def forget_devices(c: Conn, device_ids: list[int]) -> None:
    """Logged-out devices lose their subscriptions and pending pushes (same batch; the
    caller holds the user's lock)."""
    if not device_ids:
        return
    await c.execute(
        "WITH gone AS (DELETE FROM push_subscriptions WHERE device_id = ANY($1::bigint[])"
        " RETURNING subscription_id),"
        " jobs AS (DELETE FROM push_outbox WHERE subscription_id IN (SELECT * FROM gone))"
        " DELETE FROM push_shown WHERE subscription_id IN (SELECT * FROM gone)",
        device_ids,
    )


class PostgresPushStore:
    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine

    async def _pooled(self, sql: str, *args: Any) -> str:
        """One autocommitted statement on a pooled connection (not in a writer batch)."""

        async def run(c: Conn) -> str:
            return str(await c.execute(sql, *args))

        return await self.engine.read(run)

    async def vapid_keys(self, private_key: str, public_key: str) -> tuple[str, str]:
        async def keep(c: Conn) -> tuple[str, str]:
            # insert if absent, then read: a node that loses the race reads the winner's
            await c.execute(
                "INSERT INTO push_keys VALUES ('vapid', $1, $2, $3) ON CONFLICT DO NOTHING",
                private_key,
                public_key,
                now_ms(),
            )
            row = await c.fetchrow(
                "SELECT private_key, public_key FROM push_keys WHERE name = 'vapid'"
            )
            return row[0], row[1]

        return await self.engine.read(keep)

    async def subscribe(self, sub: Subscription) -> Subscription:
        async def put(c: Conn) -> Subscription:
            old = await c.fetchval(
                "SELECT subscription_id FROM push_subscriptions WHERE device_id = $1 AND kind = $2",
                sub.device_id,
                sub.kind,
            )
            if old is not None:
                await c.fetchval(_DELETE_SUBSCRIPTION.format(extra=""), old)
            await c.execute(
                "INSERT INTO push_subscriptions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                sub.subscription_id, sub.user_id, sub.device_id, sub.kind, sub.endpoint,
                sub.p256dh, sub.auth, sub.token, sub.topic, sub.created_at,
            )  # fmt: skip
            return sub

        return await self.engine.write(put, locks=[sub.user_id])

    async def subscriptions(self, user_id: int) -> list[Subscription]:
        async def q(c: Conn) -> list[Subscription]:
            rows = await c.fetch(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions s"
                " WHERE s.user_id = $1 ORDER BY s.subscription_id",
                user_id,
            )
            return [sub_row(r) for r in rows]

        return await self.engine.read(q)

    async def unsubscribe(self, user_id: int, subscription_id: int) -> bool:
        async def delete(c: Conn) -> bool:
            sql = _DELETE_SUBSCRIPTION.format(extra="AND user_id = $2")
            return bool(await c.fetchval(sql, subscription_id, user_id))

        return await self.engine.write(delete, locks=[user_id])

    async def drop_subscription(self, subscription_id: int) -> None:
        async def drop(c: Conn) -> None:
            await c.fetchval(_DELETE_SUBSCRIPTION.format(extra=""), subscription_id)

        await self.engine.read(drop)

    async def preview(self, user_id: int) -> PreviewLevel:
        async def q(c: Conn) -> PreviewLevel:
            found = await c.fetchval("SELECT push_preview FROM users WHERE user_id = $1", user_id)
            return found if found in PREVIEW_LEVELS else "sender"

        return await self.engine.read(q)

    async def set_preview(self, user_id: int, level: PreviewLevel) -> None:
        async def update(c: Conn) -> None:
            await c.execute("UPDATE users SET push_preview = $1 WHERE user_id = $2", level, user_id)

        await self.engine.write(update, locks=[user_id])

    async def set_muted(self, user_id: int, conversation_id: int, muted_until: int) -> bool:
        async def mute(c: Conn) -> bool:
            status = await c.execute(
                "UPDATE members SET muted_until = $1 WHERE conversation_id = $2 AND user_id = $3",
                muted_until,
                conversation_id,
                user_id,
            )
            return bool(status.endswith(" 1"))

        return await self.engine.write(mute, locks=[user_id])

    async def muted_until(self, user_id: int, conversation_id: int) -> int | None:
        async def q(c: Conn) -> int | None:
            value = await c.fetchval(
                "SELECT muted_until FROM members WHERE conversation_id = $1 AND user_id = $2",
                conversation_id,
                user_id,
            )
            return int(value) if value is not None else None

        return await self.engine.read(q)

    async def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[PushJob]:
        async def take(c: Conn) -> list[PushJob]:
            rows = await c.fetch(_CLAIM_SQL, now_ms, limit, lease_ms)
            orphans = [int(r["owned"]) for r in rows if r[-1]]
            if orphans:  # their subscription went (a row that raced a delete): drop them
                await c.execute(
                    "DELETE FROM push_outbox WHERE subscription_id = ANY($1::bigint[])", orphans
                )
            live = [r for r in rows if not r[-1]]
            users = list({int(r[-3]) for r in live})
            unread = {int(u): int(n) for u, n in await c.fetch(UNREAD_SQL, users)} if live else {}
            return [job_from_row(list(r)[:-3], unread.get(int(r[-3]), 0)) for r in live]

        return await self.engine.read(take)

    async def done(self, job: PushJob, *, shown: bool) -> None:
        sid = job.subscription.subscription_id
        key = (sid, job.conversation_id, job.kind)

        async def finish(c: Conn) -> None:
            # Delete the claimed version. A newer message may have collapsed into the row
            # (version bumped, lease kept): free it so it is claimed now. Two statements,
            # not one: a statement's snapshot predates a collapse that commits while it
            # waits on the row lock, so one statement would delete nothing (the re-check
            # sees the new version) and free nothing (its snapshot still shows the old
            # one), stranding the newer message until the lease ran out.
            gone = await c.execute(
                "DELETE FROM push_outbox WHERE subscription_id = $1 AND conversation_id = $2"
                " AND kind = $3 AND version = $4",
                *key,
                job.version,
            )
            if gone == "DELETE 0":
                await c.execute(
                    "UPDATE push_outbox SET lease_until = 0 WHERE subscription_id = $1"
                    " AND conversation_id = $2 AND kind = $3 AND version <> $4",
                    *key,
                    job.version,
                )
            if shown:
                await c.execute(
                    "INSERT INTO push_shown SELECT $1, $2, $3"
                    " WHERE EXISTS (SELECT 1 FROM push_subscriptions WHERE subscription_id = $3)"
                    " ON CONFLICT DO NOTHING",
                    job.subscription.user_id,
                    job.conversation_id,
                    sid,
                )

        await self.engine.read(finish)

    async def retry(self, job: PushJob, due_at: int) -> None:
        await self._reschedule(job, due_at, 1)

    async def postpone(self, job: PushJob, due_at: int) -> None:
        await self._reschedule(job, due_at, 0)

    async def _reschedule(self, job: PushJob, due_at: int, more: int) -> None:
        await self._pooled(
            # whatever version the row has now: a message that collapsed into it waits too
            "UPDATE push_outbox SET due_at = $1, lease_until = 0, attempts = attempts + $2"
            " WHERE subscription_id = $3 AND conversation_id = $4 AND kind = $5",
            due_at, more, job.subscription.subscription_id, job.conversation_id, job.kind,
        )  # fmt: skip

    async def depth(self) -> int:
        async def q(c: Conn) -> int:
            return int(await c.fetchval("SELECT count(*) FROM push_outbox"))

        return await self.engine.read(q)
