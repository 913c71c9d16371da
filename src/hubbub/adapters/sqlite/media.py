"""The MediaStore port on SQLite, sharing the Store's engine (one writer thread, so the
reference counts need no locking: every write below is one job, all or nothing).

A message's shares (`message_media`) are written by SqliteStore.append_message in the
message's own job (`share`), so a message and what it carries commit together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from hubbub.adapters.media_rows import (
    ATTACHMENT_COLUMNS,
    CLEANED_COLUMNS,
    RECORD_COLUMNS,
    attachment_from_row,
    cleaned_from_row,
    record_from_row,
)
from hubbub.adapters.sqlite.engine import SqliteEngine
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

PURGE_BATCH = 1000  # uploads forgotten per job (a big backlog takes several jobs)


def attachable(
    c: sqlite3.Connection, uploader_id: int, media_ids: Sequence[int], since_ms: int
) -> list[Attachment]:
    """Inside the message's job: the uploads as attachments, in order; not_found unless
    each is the sender's, uploaded no earlier than since_ms."""
    marks = ",".join("?" * len(media_ids))
    rows = c.execute(
        f"SELECT {ATTACHMENT_COLUMNS} FROM media WHERE media_id IN ({marks})"
        " AND uploader_id = ? AND created_at >= ?",
        (*media_ids, uploader_id, since_ms),
    ).fetchall()
    found = {int(r[0]): attachment_from_row(r) for r in rows}
    if len(found) != len(media_ids):
        raise not_found(NOT_ATTACHABLE)
    return [found[m] for m in media_ids]


def share(
    c: sqlite3.Connection, message_id: int, conversation_id: int, media_ids: Sequence[int]
) -> None:
    """Inside the message's job: the message carries these uploads."""
    c.executemany(
        "INSERT OR IGNORE INTO message_media VALUES (?, ?, ?)",
        [(media_id, message_id, conversation_id) for media_id in media_ids],
    )


class SqliteMediaStore:
    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def cleaned(self, original_sha256: str) -> Cleaned | None:
        def q(c: sqlite3.Connection) -> Cleaned | None:
            row = c.execute(
                f"SELECT {CLEANED_COLUMNS} FROM media_originals WHERE original_sha256 = ?",
                (original_sha256,),
            ).fetchone()
            return cleaned_from_row(row) if row else None

        return await self.engine.read(q)

    async def blob_key(self, sha256: str) -> str | None:
        def q(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT blob_key FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
            return str(row[0]) if row else None

        return await self.engine.read(q)

    async def add(self, media: NewMedia) -> dict[str, str]:
        refs = [media.blob] if media.thumbnail is None else [media.blob, media.thumbnail]

        def add(c: sqlite3.Connection) -> dict[str, str]:
            keys = {ref.sha256: _take_reference(c, ref, media.created_at) for ref in refs}
            thumb = media.thumbnail
            c.execute(
                "INSERT INTO media VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    media.media_id, media.uploader_id, media.blob.sha256, media.blob.size,
                    media.original_sha256, media.original_size, media.content_type,
                    media.filename, media.width, media.height, media.duration_ms,
                    thumb.sha256 if thumb else None, media.created_at,
                ),
            )  # fmt: skip
            c.execute(
                "INSERT OR REPLACE INTO media_originals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    media.original_sha256, media.blob.sha256, media.blob.size,
                    media.content_type, media.width, media.height, media.duration_ms,
                    thumb.sha256 if thumb else None, thumb.size if thumb else None,
                ),
            )  # fmt: skip
            return keys

        return await self.engine.write(add)

    async def uploaded_since(self, user_id: int, since_ms: int) -> int:
        def q(c: sqlite3.Connection) -> int:
            row = c.execute(
                "SELECT coalesce(sum(original_size), 0) FROM media"
                " WHERE uploader_id = ? AND created_at >= ?",
                (user_id, since_ms),
            ).fetchone()
            return int(row[0])

        return await self.engine.read(q)

    async def visible(
        self, user_id: int, media_id: int, not_before_id: int
    ) -> MediaRecord | None:
        def q(c: sqlite3.Connection) -> MediaRecord | None:
            row = c.execute(
                f"SELECT {RECORD_COLUMNS} FROM media m"
                " JOIN blobs b ON b.sha256 = m.sha256"
                " LEFT JOIN blobs t ON t.sha256 = m.thumb_sha256"
                " WHERE m.media_id = ? AND (m.uploader_id = ? OR EXISTS ("
                "  SELECT 1 FROM message_media mm JOIN members mem"
                "  ON mem.conversation_id = mm.conversation_id AND mem.user_id = ?"
                "  WHERE mm.media_id = m.media_id AND mm.message_id >= ?) OR EXISTS ("
                "  SELECT 1 FROM message_media mm JOIN former_members f"
                "  ON f.conversation_id = mm.conversation_id AND f.user_id = ?"
                "  WHERE mm.media_id = m.media_id AND mm.message_id >= ?"
                "  AND mm.message_id <= f.upto_message_id)"
                " OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id))",
                (media_id, user_id, user_id, not_before_id, user_id, not_before_id),
            ).fetchone()
            return record_from_row(row) if row else None

        return await self.engine.read(q)

    async def purge(self, now_ms: int, grace_ms: int) -> list[str]:
        def purge(c: sqlite3.Connection) -> list[str]:
            c.execute(
                "DELETE FROM message_media WHERE NOT EXISTS"
                " (SELECT 1 FROM messages WHERE message_id = message_media.message_id)"
            )
            gone = c.execute(
                "DELETE FROM media WHERE media_id IN (SELECT media_id FROM media m"
                " WHERE m.created_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM message_media mm WHERE mm.media_id = m.media_id)"
                " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id)"
                " LIMIT ?)"
                " RETURNING sha256, thumb_sha256",
                (now_ms - grace_ms, PURGE_BATCH),
            ).fetchall()
            released: dict[str, int] = {}
            for sha, thumb in gone:
                for held in (sha, thumb):
                    if held:
                        released[held] = released.get(held, 0) + 1
            c.executemany(
                "UPDATE blobs SET refs = refs - ? WHERE sha256 = ?",
                [(n, sha) for sha, n in released.items()],
            )
            dead = c.execute(
                "DELETE FROM blobs WHERE refs <= 0 RETURNING sha256, blob_key"
            ).fetchall()
            c.executemany(
                "DELETE FROM media_originals WHERE sha256 = ? OR thumb_sha256 = ?",
                [(sha, sha) for sha, _ in dead],
            )
            return [str(key) for _, key in dead]

        keys: list[str] = []
        while True:
            batch = await self.engine.write(purge)
            keys.extend(batch)
            if not batch:
                return keys

    async def keys(self) -> set[str]:
        def q(c: sqlite3.Connection) -> set[str]:
            return {str(r[0]) for r in c.execute("SELECT blob_key FROM blobs")}

        return await self.engine.read(q)

    async def totals(self) -> MediaTotals:
        def q(c: sqlite3.Connection) -> MediaTotals:
            row = c.execute(
                "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(size * refs), 0)"
                " FROM blobs"
            ).fetchone()
            return MediaTotals(int(row[0]), int(row[1]), int(row[2]))

        return await self.engine.read(q)


def _take_reference(c: sqlite3.Connection, ref: BlobRef, now: int) -> str:
    if ref.key is None:
        row = c.execute(
            "UPDATE blobs SET refs = refs + 1 WHERE sha256 = ? RETURNING blob_key", (ref.sha256,)
        ).fetchone()
        if row is None:
            raise MissingBlob(ref.sha256)
        return str(row[0])
    row = c.execute(
        "INSERT INTO blobs VALUES (?, ?, ?, 1, ?)"
        " ON CONFLICT (sha256) DO UPDATE SET refs = refs + 1 RETURNING blob_key",
        (ref.sha256, ref.key, ref.size, now),
    ).fetchone()
    return str(row[0])
