"""Attachments: upload, attach, download, forget. The REST edge and Messaging call here.

An upload streams to a staging file while it is hashed (never held whole in memory);
past the size limit it stops and nothing is kept. The bytes are then sniffed and, for an
image, cleaned (orientation applied, metadata gone) and thumbnailed by the inspector.
Blobs are stored under their SHA-256 plus a per-row nonce (a blob deleted and uploaded
again gets a new key, so a late delete never removes the new one); the blob is put
first, then the rows that reference it commit, so a row never names a missing file. The
same original bytes uploaded again map to the same cleaned blob without being cleaned
again. Nothing here answers "is this hash stored?": a client only ever learns the hash
of bytes it sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from hubbub.core.clock import DAY_MS, now_ms
from hubbub.core.errors import HubbubError, not_found
from hubbub.core.media import (
    UPLOAD_GRACE_MS,
    Attachment,
    BlobRef,
    Cleaned,
    Inspection,
    MediaRecord,
    MissingBlob,
    NewMedia,
    Prepared,
    check_filename,
    clean_filename,
    media_type_of,
    stored_type,
)
from hubbub.ports import BlobStore, MediaInspector, MediaStore
from hubbub.services.throttle import Throttle

log = logging.getLogger("hubbub.media")
WRITE_CHUNK_BYTES = 1 << 20  # staged to disk (and hashed) off the loop this much at a time
SWEEP_AFTER_MS = 3600 * 1000  # a file no row names, this old, is a leftover of a crash


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    max_upload_bytes: int = 100 << 20
    daily_upload_bytes: int = 2 << 30  # per user, over the last 24 hours


@dataclass(slots=True)
class MediaCounters:
    uploads: int = 0
    deduplicated: int = 0  # uploads whose content was already stored
    refused: dict[str, int] | None = None
    blobs_deleted: int = 0

    def refuse(self, reason: str) -> None:
        if self.refused is None:
            self.refused = {}
        self.refused[reason] = self.refused.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class Uploaded:
    attachment: Attachment
    has_thumbnail: bool


@dataclass(frozen=True, slots=True)
class Download:
    """What a GET serves: the blob's key and what to say about it."""

    record: MediaRecord
    key: str
    size: int
    content_type: str
    etag: str


class Media:
    def __init__(
        self,
        store: MediaStore,
        blobs: BlobStore,
        inspector: MediaInspector,
        staging: Path,
        new_id: Callable[[], int],
        not_before_id: Callable[[int], Awaitable[int]],
        throttle: Throttle,
        policy: MediaPolicy,
        counters: MediaCounters,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.inspector = inspector
        self.staging = staging
        self.new_id = new_id
        self.not_before_id = not_before_id  # the first message id the user still sees
        self.throttle = throttle
        self.policy = policy
        self.counters = counters

    # -- upload ---------------------------------------------------------------------------

    async def upload(
        self,
        user_id: int,
        chunks: AsyncIterator[bytes],
        *,
        declared_size: int | None,
        claimed_type: str | None,
        filename: str | None,
    ) -> Uploaded:
        """Store the bytes (deduplicated) and return the attachment they make. Refusals
        (too large, over the quota, a claim the bytes do not bear out, a damaged image)
        keep nothing."""
        try:
            return await self._upload(user_id, chunks, declared_size, claimed_type, filename)
        except HubbubError as error:
            self.counters.refuse(error.code)
            raise

    async def _upload(
        self,
        user_id: int,
        chunks: AsyncIterator[bytes],
        declared_size: int | None,
        claimed_type: str | None,
        filename: str | None,
    ) -> Uploaded:
        limit = self.policy.max_upload_bytes
        if declared_size is not None and declared_size > limit:
            raise HubbubError("too_large", f"the file is over {limit} bytes")
        await self.throttle.everywhere(self.throttle.rules.uploads_per_user, f"u{user_id}")
        await self._check_quota(user_id, declared_size or 0)
        name = clean_filename(check_filename(filename))
        staged = str(self.staging / f"{secrets.token_hex(12)}.up")
        prepared: Prepared | None = None
        try:
            sha256, size = await _stage(chunks, staged, limit)  # (an empty file is a file)
            await self._check_quota(user_id, size)
            claimed = media_type_of(claimed_type)
            known = await self.store.cleaned(sha256)
            if known is not None:
                # the same bytes, so the same verdict on this upload's claim: what they
                # were stored as stands in for what they sniff as
                kind = stored_type(known.inspection.content_type, claimed)
                inspection = replace(known.inspection, content_type=kind)
                reused = await self._reuse(
                    user_id, replace(known, inspection=inspection), sha256, size, name
                )
                if reused is not None:
                    return reused
            prepared = await self.inspector.prepare(staged, claimed, sha256, size)
            return await self._store(user_id, prepared, sha256, size, name)
        finally:
            leftovers = [staged]
            if prepared is not None:
                leftovers += [prepared.path, prepared.thumbnail or ""]
            await asyncio.to_thread(_remove, leftovers)

    async def _check_quota(self, user_id: int, more: int) -> None:
        used = await self.store.uploaded_since(user_id, now_ms() - DAY_MS)
        if used + more > self.policy.daily_upload_bytes:
            raise HubbubError(
                "rate_limited",
                f"the upload quota of {self.policy.daily_upload_bytes} bytes a day is used up",
                retry_after_ms=3600 * 1000,
            )

    async def _reuse(
        self, user_id: int, known: Cleaned, sha256: str, size: int, name: str | None
    ) -> Uploaded | None:
        """The same original bytes were uploaded before: a new reference to what they
        became, or None if those blobs have gone meanwhile (then it is stored afresh)."""
        media = self._new_media(
            user_id, sha256, size, BlobRef(known.blob.sha256, known.blob.size),
            known.thumbnail, known.inspection, name,
        )  # fmt: skip
        try:
            await self.store.add(media)
        except MissingBlob:
            return None
        self.counters.uploads += 1
        self.counters.deduplicated += 1
        return _uploaded(media)

    async def _store(
        self, user_id: int, prepared: Prepared, sha256: str, size: int, name: str | None
    ) -> Uploaded:
        files = {prepared.sha256: prepared.path}
        blob = BlobRef(prepared.sha256, prepared.size)
        thumb = None
        if prepared.thumbnail and prepared.thumbnail_sha256:
            files[prepared.thumbnail_sha256] = prepared.thumbnail
            thumb = BlobRef(prepared.thumbnail_sha256, prepared.thumbnail_size)
        put: dict[str, str] = {}  # sha -> the key this upload put it under
        for ref in (blob, thumb):
            if ref is not None and await self.store.blob_key(ref.sha256) is None:
                put[ref.sha256] = await self._put(files[ref.sha256], ref.sha256)
        for _ in range(3):
            media = self._new_media(
                user_id, sha256, size, BlobRef(blob.sha256, blob.size, put.get(blob.sha256)),
                _with_key(thumb, put),
                prepared.inspection, name,
            )  # fmt: skip
            try:
                keys = await self.store.add(media)
                break
            except MissingBlob as gone:  # purged between our look and our commit
                put[gone.sha256] = await self._put(files[gone.sha256], gone.sha256)
        else:
            raise HubbubError("unavailable", "the upload could not be stored; retry")
        for sha, key in put.items():
            if keys.get(sha) != key:  # another upload of the same bytes won the row
                await self.blobs.delete(key)
        self.counters.uploads += 1
        if not put:
            self.counters.deduplicated += 1
        return _uploaded(media)

    async def _put(self, path: str, sha256: str) -> str:
        key = f"{sha256}-{secrets.token_hex(6)}"
        try:
            await self.blobs.put(key, path)
        except OSError as error:  # a full disk, the bucket away: nothing was recorded
            log.warning("media storage refused a blob: %s", error)
            raise HubbubError("unavailable", "media storage is unavailable; retry") from None
        return key

    def _new_media(
        self,
        user_id: int,
        original_sha256: str,
        original_size: int,
        blob: BlobRef,
        thumbnail: BlobRef | None,
        inspection: Inspection,
        name: str | None,
    ) -> NewMedia:
        return NewMedia(
            media_id=self.new_id(),
            uploader_id=user_id,
            original_sha256=original_sha256,
            original_size=original_size,
            blob=blob,
            content_type=inspection.content_type,
            filename=name,
            width=inspection.width,
            height=inspection.height,
            duration_ms=inspection.duration_ms,
            thumbnail=thumbnail,
            created_at=now_ms(),
        )

    # -- download -------------------------------------------------------------------------

    async def download(self, user_id: int, media_id: int, *, thumbnail: bool = False) -> Download:
        """What the user may fetch; not_found alike for a stranger and an unknown id."""
        record = await self.store.visible(user_id, media_id, await self.not_before_id(user_id))
        if record is None:
            raise not_found("no such media")
        if not thumbnail:
            return Download(
                record, record.blob_key, record.size, record.content_type, f'"{record.sha256}"'
            )
        if record.thumbnail_key is None or record.thumbnail_size is None:
            raise not_found("this media has no thumbnail")
        sha = record.thumbnail_key.rsplit("-", 1)[0]
        return Download(
            record, record.thumbnail_key, record.thumbnail_size, "image/jpeg", f'"{sha}"'
        )

    async def open(self, download: Download, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes start..end, with the first chunk already read: a blob that cannot be
        read is an error before any answer is sent (unavailable; a file missing under a
        row is logged, since rows only ever name stored files)."""
        chunks = self.blobs.read(download.key, start, end)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        except FileNotFoundError:
            log.error("media %d: blob %s is missing", download.record.media_id, download.key)
            raise HubbubError("unavailable", "this file cannot be read now") from None
        except OSError as error:
            log.warning("media storage unreadable: %s", error)
            raise HubbubError("unavailable", "media storage is unreachable; retry") from None
        return _then(first, chunks)

    # -- forgetting -----------------------------------------------------------------------

    async def purge(self) -> int:
        """Forget uploads nothing carries any more and delete blobs nothing references;
        the number of blobs deleted."""
        keys = await self.store.purge(now_ms(), UPLOAD_GRACE_MS)
        for key in keys:
            await self.blobs.delete(key)
        self.counters.blobs_deleted += len(keys)
        return len(keys)

    async def sweep(self) -> int:
        """Delete files no row names (left by a crash between put and commit), and stale
        staging files; the number deleted."""
        cutoff = now_ms() - SWEEP_AFTER_MS
        stored = await self.blobs.keys(cutoff)
        named = await self.store.keys()
        orphans = [k for k in stored if k not in named]
        for key in orphans:
            await self.blobs.delete(key)
        staged = await asyncio.to_thread(_stale_staging, self.staging, cutoff)
        if orphans or staged:
            log.info("swept %d orphaned blobs and %d staging files", len(orphans), staged)
        return len(orphans) + staged


async def _stage(chunks: AsyncIterator[bytes], path: str, limit: int) -> tuple[str, int]:
    """Write the body to `path`, hashing it, in big writes off the loop; too_large (and
    the file removed by the caller) past `limit`."""
    h = hashlib.sha256()
    size = 0
    buffer: list[bytes] = []
    buffered = 0
    f: BinaryIO = await asyncio.to_thread(open, path, "xb")
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise HubbubError("too_large", f"the file is over {limit} bytes")
            buffer.append(chunk)
            buffered += len(chunk)
            if buffered >= WRITE_CHUNK_BYTES:
                await asyncio.to_thread(_write, f, h, b"".join(buffer))
                buffer, buffered = [], 0
        if buffer:
            await asyncio.to_thread(_write, f, h, b"".join(buffer))
    finally:
        await asyncio.to_thread(f.close)
    return h.hexdigest(), size


def _write(f: BinaryIO, h: hashlib._Hash, data: bytes) -> None:
    h.update(data)
    f.write(data)


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _with_key(ref: BlobRef | None, put: dict[str, str]) -> BlobRef | None:
    if ref is None:
        return None
    return BlobRef(ref.sha256, ref.size, put.get(ref.sha256))


def _uploaded(media: NewMedia) -> Uploaded:
    attachment = Attachment(
        str(media.media_id), media.content_type, media.blob.size, media.blob.sha256,
        media.filename, media.width, media.height, media.duration_ms,
    )  # fmt: skip
    return Uploaded(attachment, media.thumbnail is not None)


def _remove(paths: list[str]) -> None:
    for path in paths:
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _stale_staging(staging: Path, cutoff_ms: int) -> int:
    removed = 0
    if not staging.is_dir():
        return 0
    for entry in staging.iterdir():
        if entry.is_file() and entry.stat().st_mtime * 1000 < cutoff_ms:
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
