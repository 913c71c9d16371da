"""The MediaStore port on PostgreSQL, sharing the Store's engine.

A message's shares (`message_media`) are written in the message's own batch by
PostgresStore.append_message (`share`), so a message and what it carries commit together.

Everything else runs in transactions of its own on pooled connections, outside the
writer's batches, and takes row locks in one global order, so no two of them can wait on
each other in a cycle: media rows, then blob rows in sha256 order, then media_originals.
`add` inserts a new media row (nobody else can hold it), then takes its blob rows sorted,
then upserts the mapping of the original; `purge` (one at a time in the cluster, by a
try-lock) deletes media rows, then locks blob rows sorted and changes them, then deletes
mappings. A batch of the writer touches none of
these rows but the new media rows' ids it reads (a plain read, no lock), so the message
path never waits here and nothing here waits on it. `visible` and `attachable` are plain
reads.

Why an upload attached at once cannot lose its row to `purge`: purge forgets only uploads
older than the grace period (a day) that no message carries, and an upload may be attached
only within 23 hours of its upload (Media.ATTACH_WITHIN_MS), so the two never meet. The
same holds for a profile picture (PostgresStore.set_avatar: an upload of the last 23
hours); once it is someone's picture, purge skips it (`users.avatar_media_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import asyncpg

from hubbub.adapters.media_rows import (
    ATTACHMENT_COLUMNS,
    CLEANED_COLUMNS,
    RECORD_COLUMNS,
    attachment_from_row,
    cleaned_from_row,
    record_from_row,
)
from hubbub.adapters.postgres.engine import PostgresEngine
from hubbub.core.errors import not_found
from hubbub.core.media import (
    NOT_ATTACHABLE,
    Attachment,
    BlobRef,
    Cleaned,
    MediaRecord,
    MediaTotals,
    MissingBlob,
    NewMedia,
)

Conn: TypeAlias = asyncpg.Connection
PURGE_BATCH = 1000
PURGE_LOCK = 0x6D656469  # "medi", with 1 as the second key


async def attachable(
    c: Conn, uploader_id: int, media_ids: Sequence[int], since_ms: int
) -> list[Attachment]:
    """Inside the message's batch (a plain read, no lock): the uploads as attachments, in
    order; not_found unless each is the sender's, uploaded no earlier than since_ms."""
    rows = await c.fetch(
        f"SELECT {ATTACHMENT_COLUMNS} FROM media WHERE media_id = ANY($1::bigint[])"
        " AND uploader_id = $2 AND created_at >= $3",
        list(media_ids),
        uploader_id,
        since_ms,
    )
    found = {int(r[0]): attachment_from_row(tuple(r)) for r in rows}
    if len(found) != len(media_ids):
        raise not_found(NOT_ATTACHABLE)
    return [found[m] for m in media_ids]


async def share(c: Conn, message_id: int, conversation_id: int, media_ids: Sequence[int]) -> None:
    """Inside the message's batch: the message carries these uploads (new rows only: the
    message is new, so no other transaction can hold them)."""
    await c.execute(
        "INSERT INTO message_media SELECT m, $1, $2 FROM unnest($3::bigint[]) m"
        " ON CONFLICT DO NOTHING",
        message_id,
        conversation_id,
        list(media_ids),
    )


class PostgresMediaStore:
    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine

    async def cleaned(self, original_sha256: str) -> Cleaned | None:
        async def q(c: Conn) -> Cleaned | None:
            row = await c.fetchrow(
                f"SELECT {CLEANED_COLUMNS} FROM media_originals WHERE original_sha256 = $1",
                original_sha256,
            )
            return cleaned_from_row(tuple(row)) if row else None

        return await self.engine.read(q)

    async def blob_key(self, sha256: str) -> str | None:
        async def q(c: Conn) -> str | None:
            value = await c.fetchval("SELECT blob_key FROM blobs WHERE sha256 = $1", sha256)
            return str(value) if value is not None else None

        return await self.engine.read(q)

    async def add(self, media: NewMedia) -> dict[str, str]:
        refs = [media.blob] if media.thumbnail is None else [media.blob, media.thumbnail]
        thumb = media.thumbnail

        async def add(c: Conn) -> dict[str, str]:
            async with c.transaction():
                await c.execute(
                    "INSERT INTO media VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                    " $12, $13)",
                    media.media_id, media.uploader_id, media.blob.sha256, media.blob.size,
                    media.original_sha256, media.original_size, media.content_type,
                    media.filename, media.width, media.height, media.duration_ms,
                    thumb.sha256 if thumb else None, media.created_at,
                )  # fmt: skip
                keys = {}
                for ref in sorted(refs, key=lambda r: r.sha256):  # the global order
                    keys[ref.sha256] = await _take_reference(c, ref, media.created_at)
                await c.execute(
                    "INSERT INTO media_originals VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT (original_sha256) DO UPDATE SET sha256 = excluded.sha256,"
                    " size = excluded.size, content_type = excluded.content_type,"
                    " width = excluded.width, height = excluded.height,"
                    " duration_ms = excluded.duration_ms, thumb_sha256 = excluded.thumb_sha256,"
                    " thumb_size = excluded.thumb_size",
                    media.original_sha256, media.blob.sha256, media.blob.size,
                    media.content_type, media.width, media.height, media.duration_ms,
                    thumb.sha256 if thumb else None, thumb.size if thumb else None,
                )  # fmt: skip
                return keys

        return await self.engine.read(add)

    async def uploaded_since(self, user_id: int, since_ms: int) -> int:
        async def q(c: Conn) -> int:
            value = await c.fetchval(
                "SELECT coalesce(sum(original_size), 0) FROM media"
                " WHERE uploader_id = $1 AND created_at >= $2",
                user_id,
                since_ms,
            )
            return int(value)

        return await self.engine.read(q)

    async def visible(
        self, user_id: int, media_id: int, not_before_id: int
    ) -> MediaRecord | None:
        async def q(c: Conn) -> MediaRecord | None:
            row = await c.fetchrow(
                f"SELECT {RECORD_COLUMNS} FROM media m"
                " JOIN blobs b ON b.sha256 = m.sha256"
                " LEFT JOIN blobs t ON t.sha256 = m.thumb_sha256"
                " WHERE m.media_id = $1 AND (m.uploader_id = $2 OR EXISTS ("
                "  SELECT 1 FROM message_media mm JOIN members mem"
                "  ON mem.conversation_id = mm.conversation_id AND mem.user_id = $2"
                "  WHERE mm.media_id = m.media_id AND mm.message_id >= $3) OR EXISTS ("
                "  SELECT 1 FROM message_media mm JOIN former_members f"
                "  ON f.conversation_id = mm.conversation_id AND f.user_id = $2"
                "  WHERE mm.media_id = m.media_id AND mm.message_id >= $3"
                "  AND mm.message_id <= f.upto_message_id)"
                " OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id))",
                media_id,
                user_id,
                not_before_id,
            )
            return record_from_row(tuple(row)) if row else None

        return await self.engine.read(q)

    async def purge(self, now_ms: int, grace_ms: int) -> list[str]:
        async def purge(c: Conn) -> list[str]:
            async with c.transaction():
                # one purge at a time in the cluster (the two-int key space of advisory
                # locks is not the one the writer's bigint user keys live in)
                if not await c.fetchval("SELECT pg_try_advisory_xact_lock($1, 1)", PURGE_LOCK):
                    return []
                await c.execute(
                    "DELETE FROM message_media mm WHERE NOT EXISTS"
                    " (SELECT 1 FROM messages m WHERE m.message_id = mm.message_id)"
                )
                gone = await c.fetch(
                    "DELETE FROM media WHERE media_id IN (SELECT media_id FROM media m"
                    " WHERE m.created_at < $1 AND NOT EXISTS"
                    " (SELECT 1 FROM message_media mm WHERE mm.media_id = m.media_id)"
                    " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id)"
                    " LIMIT $2) RETURNING sha256, thumb_sha256",
                    now_ms - grace_ms,
                    PURGE_BATCH,
                )
                released: dict[str, int] = {}
                for sha, thumb in gone:
                    for held in (sha, thumb):
                        if held:
                            released[held] = released.get(held, 0) + 1
                if released:
                    shas = sorted(released)
                    await c.execute(  # the rows locked in the global order, then changed
                        "SELECT 1 FROM blobs WHERE sha256 = ANY($1::text[])"
                        " ORDER BY sha256 FOR UPDATE",
                        shas,
                    )
                    await c.execute(
                        "UPDATE blobs b SET refs = b.refs - r.n FROM"
                        " unnest($1::text[], $2::bigint[]) AS r(sha256, n)"
                        " WHERE b.sha256 = r.sha256",
                        shas,
                        [released[s] for s in shas],
                    )
                dead = await c.fetch(
                    "DELETE FROM blobs WHERE sha256 = ANY($1::text[]) AND refs <= 0"
                    " RETURNING sha256, blob_key",
                    sorted(released),
                )
                dead_shas = [r[0] for r in dead]
                await c.execute(
                    "DELETE FROM media_originals WHERE sha256 = ANY($1::text[])"
                    " OR thumb_sha256 = ANY($1::text[])",
                    dead_shas,
                )
                return [str(r[1]) for r in dead] if gone else []

        keys: list[str] = []
        while True:
            batch = await self.engine.read(purge)
            keys.extend(batch)
            if not batch:
                return keys

    async def keys(self) -> set[str]:
        async def q(c: Conn) -> set[str]:
            return {str(r[0]) for r in await c.fetch("SELECT blob_key FROM blobs")}

        return await self.engine.read(q)

    async def totals(self) -> MediaTotals:
        async def q(c: Conn) -> MediaTotals:
            row = await c.fetchrow(
                "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(size * refs), 0)"
                " FROM blobs"
            )
            assert row is not None
            return MediaTotals(int(row[0]), int(row[1]), int(row[2]))

        return await self.engine.read(q)


async def _take_reference(c: Conn, ref: BlobRef, now: int) -> str:
    if ref.key is None:
        value = await c.fetchval(
            "UPDATE blobs SET refs = refs + 1 WHERE sha256 = $1 RETURNING blob_key", ref.sha256
        )
        if value is None:
            raise MissingBlob(ref.sha256)
        return str(value)
    value = await c.fetchval(
        "INSERT INTO blobs VALUES ($1, $2, $3, 1, $4)"
        " ON CONFLICT (sha256) DO UPDATE SET refs = blobs.refs + 1 RETURNING blob_key",
        ref.sha256,
        ref.key,
        ref.size,
        now,
    )
    return str(value)
