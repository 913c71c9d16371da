"""Media rows to records, shared by the SQL media stores (both select these columns)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from hubbub.core.media import Attachment, BlobRef, Cleaned, Inspection, MediaRecord

# m = media, b = the blob of its file, t = the blob of its thumbnail
RECORD_COLUMNS = (
    "m.media_id, m.uploader_id, m.sha256, m.size, m.content_type, m.filename, m.width,"
    " m.height, m.duration_ms, b.blob_key, t.blob_key, t.size, m.created_at"
)
ATTACHMENT_COLUMNS = (
    "media_id, content_type, size, sha256, filename, width, height, duration_ms"
)
CLEANED_COLUMNS = (
    "sha256, size, content_type, width, height, duration_ms, thumb_sha256, thumb_size"
)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(tuple[Attachment, ...]).decode


def record_from_row(row: Sequence[Any]) -> MediaRecord:
    return MediaRecord(
        int(row[0]), int(row[1]), row[2], int(row[3]), row[4], row[5], row[6], row[7],
        row[8], row[9], row[10], row[11], int(row[12]),
    )  # fmt: skip


def attachment_from_row(row: Sequence[Any]) -> Attachment:
    return Attachment(str(row[0]), row[1], int(row[2]), row[3], row[4], row[5], row[6], row[7])


def cleaned_from_row(row: Sequence[Any]) -> Cleaned:
    sha, size, content_type, width, height, duration_ms, thumb_sha, thumb_size = row
    thumbnail = BlobRef(thumb_sha, int(thumb_size)) if thumb_sha else None
    return Cleaned(
        BlobRef(sha, int(size)), thumbnail, Inspection(content_type, width, height, duration_ms)
    )


def encode_attachments(attachments: Sequence[Attachment]) -> str | None:
    """The messages.attachments column: JSON, or NULL for none."""
    return _encode(tuple(attachments)).decode() if attachments else None


def decode_attachments(value: str | bytes | None) -> tuple[Attachment, ...] | None:
    return _decode(value) if value else None
