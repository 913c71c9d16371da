"""Attachments: what a file is, how it is shown, and who may fetch it. No I/O here.

A file's type is what its bytes are (sniffed), never what the client claimed: a claim of
an image, video or audio type that the bytes do not bear out is refused, and bytes of a
type outside the allowlist are kept as `application/octet-stream` (a file to download).
Only raster images, audio and video are ever shown inline; everything else, HTML and SVG
above all, is served as a download inside a sandbox.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from hubbub.core.errors import HubbubError, bad_request

OCTET_STREAM: Final = "application/octet-stream"
# the types a file may be stored as (anything else becomes OCTET_STREAM)
IMAGES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEOS: Final = frozenset({"video/mp4", "video/webm", "video/quicktime"})
AUDIO: Final = frozenset(
    {"audio/mpeg", "audio/ogg", "audio/mp4", "audio/x-wav", "audio/wav", "audio/webm",
     "audio/x-flac", "audio/aac", "audio/amr"}
)  # fmt: skip
DOCUMENTS: Final = frozenset(
    {"application/pdf", "application/zip", "application/gzip", "application/x-7z-compressed",
     "application/x-tar", "application/epub+zip", "application/vnd.oasis.opendocument.text",
     "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
     "application/rtf"}
)  # fmt: skip
INLINE: Final = IMAGES | VIDEOS | AUDIO  # shown in the page; all else is a download
MAX_ATTACHMENTS: Final = 10
MAX_FILENAME_CHARS: Final = 255  # kept (a longer name is shortened, its extension kept)
MAX_FILENAME_INPUT_CHARS: Final = 1024  # given (beyond: bad_request)
MAX_PIXELS: Final = 50_000_000  # a bigger image is refused before it is decoded
MAX_SIDE: Final = 20_000  # ... and so is one longer than this on any side
THUMBNAIL_SIDE: Final = 320  # the longer side of a thumbnail
UPLOAD_GRACE_MS: Final = 24 * 3600 * 1000  # an upload no message carries lives this long
ATTACH_WITHIN_MS: Final = 23 * 3600 * 1000  # ... and may be attached only this soon after
NOT_ATTACHABLE: Final = "no such media (attach your own uploads, within a day of uploading)"
# a profile picture: one of the caller's own image uploads, chosen within the attach window
# (so it never meets the purge of unshared uploads), as the bytes sniffed (not as claimed)
AVATAR_TYPES: Final = IMAGES
NOT_AVATAR_SOURCE: Final = (
    "no such media (a profile picture is one of your own uploads, within a day of uploading)"
)


class Attachment(msgspec.Struct, frozen=True, omit_defaults=True):
    """An attachment as the `message` frame and history carry it."""

    media_id: str
    content_type: str
    size: int
    sha256: str
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    """What a worker found in an uploaded file (after cleaning, for images)."""

    content_type: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


def stored_type(sniffed: str | None, claimed: str | None) -> str:
    """The type a file is stored as, from the sniffed type of its bytes and the client's
    claim. A claim of a media type the bytes do not bear out is refused: a page named
    cat.png is not a photo, and a client that says it is has a bug or an intent."""
    claim = media_type_of(claimed)
    if sniffed is not None and sniffed in INLINE | DOCUMENTS:
        if claim in INLINE and claim != sniffed:
            av = VIDEOS | AUDIO
            if claim in av and sniffed in av and _subtype(claim) == _subtype(sniffed):
                return claim  # one container (mp4, webm) holds sound or pictures alike
            if _family(claim) != _family(sniffed):
                raise unsupported(f"the file is {sniffed}, not {claim}")
        return sniffed
    if claim in INLINE:
        raise unsupported(f"the file is not {claim} (its bytes are no image, video or audio)")
    return OCTET_STREAM


def media_type_of(content_type: str | None) -> str | None:
    """`image/PNG; charset=x` -> `image/png`; None for nothing usable."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return media if "/" in media else None


def _family(media_type: str) -> str:
    return media_type.split("/", 1)[0]


def _subtype(media_type: str) -> str:
    return media_type.split("/", 1)[1]


def unsupported(message: str) -> HubbubError:
    return HubbubError("unsupported_media", message)


def check_avatar_type(content_type: str) -> None:
    """A profile picture is an image (JPEG, PNG, GIF or WebP, as sniffed at upload)."""
    if content_type not in AVATAR_TYPES:
        raise unsupported("a profile picture must be a JPEG, PNG, GIF or WebP image")


def is_inline(content_type: str) -> bool:
    return content_type in INLINE


def describe(body: str, attachments: Sequence[Attachment] | None) -> str:
    """A message as one line of text (a push preview): what it carries, then its body.
    "📷 Photo", "📷 3 photos Look!", "📎 report.pdf"."""
    if not attachments:
        return body
    first = attachments[0]
    family = _family(first.content_type) if first.content_type in INLINE else "file"
    same = all(
        (_family(a.content_type) if a.content_type in INLINE else "file") == family
        for a in attachments
    )
    icon, one, many = _LABELS[family] if same else ("\U0001f4ce", "File", "files")
    if len(attachments) > 1:
        label = f"{icon} {len(attachments)} {many}"
    elif family == "file" and first.filename:
        label = f"{icon} {first.filename}"
    else:
        label = f"{icon} {one}"
    return f"{label} {body}" if body else label


_LABELS = {
    "image": ("\U0001f4f7", "Photo", "photos"),
    "video": ("\U0001f3a5", "Video", "videos"),
    "audio": ("\U0001f3b5", "Audio", "audio files"),
    "file": ("\U0001f4ce", "File", "files"),
}


def check_pixels(width: int, height: int) -> None:
    """Refuse a decompression bomb from its header, before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise unsupported("the image has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        megapixels = width * height / 1e6
        raise HubbubError(
            "too_large",
            f"the image is {width}x{height} ({megapixels:.0f} megapixels);"
            f" at most {MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE} px a side",
        )


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The thumbnail's size: the longer side THUMBNAIL_SIDE (never upscaled)."""
    scale = min(1.0, THUMBNAIL_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_filename(name: str | None) -> str | None:
    """The `filename` a client gave: bounded (a longer one is a mistake, not a name)."""
    if name is not None and len(name) > MAX_FILENAME_INPUT_CHARS:
        raise bad_request(f"filename must be at most {MAX_FILENAME_INPUT_CHARS} characters")
    return name


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def clean_filename(name: str | None) -> str | None:
    """A filename to show and to offer on download: no path, no control characters,
    bounded; None when nothing is left."""
    if name is None:
        return None
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        keep = MAX_FILENAME_CHARS - len(ext) - 1 if dot and len(ext) <= 16 else 0
        name = (stem[:keep] + "." + ext) if keep > 0 else name[:MAX_FILENAME_CHARS]
    return name or None


def check_attachment_ids(ids: Sequence[str] | None) -> list[int]:
    """The `attachments` of a send: 1..MAX_ATTACHMENTS media ids, in order, each once."""
    if ids is None:
        return []
    if not 1 <= len(ids) <= MAX_ATTACHMENTS:
        raise bad_request(f"attachments must hold 1..{MAX_ATTACHMENTS} media ids")
    parsed: list[int] = []
    for value in ids:
        # the rule of every id (core.frames.parse_id): decimal, below 2^63
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            raise bad_request("attachments must be media ids (strings of digits)")
        if len(value) > 19 or int(value) >= 1 << 63:
            raise bad_request("attachments must be media ids (below 2^63)")
        media_id = int(value)
        if media_id not in parsed:  # "7" and "007" are one id: a repeat is taken once
            parsed.append(media_id)
    return parsed


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """A Range the file cannot satisfy (416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """A `Range: bytes=...` header (RFC 9110 14.1.2) against a file of `size` bytes:
    one range, or None to send the whole file (no header, another unit, several ranges:
    a server may ignore Range). Raises Unsatisfiable for a range past the end."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None  # malformed: ignored, as RFC 9110 allows
    if first == "":
        if last == "" or int(last) == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - int(last)), size - 1)
    start = int(first)
    if start >= size:
        raise Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None  # last < first: invalid, ignored
    return ByteRange(start, end)


def content_disposition(content_type: str, filename: str | None) -> str:
    """inline only for the allowlisted media types; the name RFC 6266/8187-encoded."""
    kind = "inline" if is_inline(content_type) else "attachment"
    if not filename:
        return kind
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    encoded = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "!#$&+-.^_`|~") else _pct(ch)
        for ch in filename
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode())


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A blob an upload needs: its content hash, its size, and the key the upload put it
    under (None: the upload expects the store to have it already)."""

    sha256: str
    size: int
    key: str | None = None


class MissingBlob(Exception):
    """A blob the upload expected to exist was deleted meanwhile: put it and try again."""

    def __init__(self, sha256: str) -> None:
        super().__init__(sha256)
        self.sha256 = sha256


@dataclass(frozen=True, slots=True)
class NewMedia:
    """An upload to record: its file (cleaned for images) and its thumbnail, if any."""

    media_id: int
    uploader_id: int
    original_sha256: str  # of the bytes as uploaded (a re-upload maps to the same blob)
    original_size: int  # counted against the uploader's daily quota
    blob: BlobRef
    content_type: str
    filename: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    thumbnail: BlobRef | None
    created_at: int


@dataclass(frozen=True, slots=True)
class Cleaned:
    """What an earlier upload of the same original bytes became (so the same bytes are
    not cleaned again and land on the same blob)."""

    blob: BlobRef
    thumbnail: BlobRef | None
    inspection: Inspection


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """A stored upload, as a download needs it."""

    media_id: int
    uploader_id: int
    sha256: str
    size: int
    content_type: str
    filename: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    blob_key: str
    thumbnail_key: str | None
    thumbnail_size: int | None
    created_at: int

    def attachment(self) -> Attachment:
        return Attachment(
            str(self.media_id),
            self.content_type,
            self.size,
            self.sha256,
            self.filename,
            self.width,
            self.height,
            self.duration_ms,
        )


@dataclass(frozen=True, slots=True)
class MediaTotals:
    blobs: int
    bytes_stored: int
    bytes_referenced: int  # what every upload would take if none were deduplicated


@dataclass(frozen=True, slots=True)
class Prepared:
    """An upload made ready to store: `path` holds the bytes to store (the cleaned image,
    or the upload itself), `thumbnail` a thumbnail's file if one was made."""

    inspection: Inspection
    path: str
    sha256: str
    size: int
    thumbnail: str | None = None
    thumbnail_sha256: str | None = None
    thumbnail_size: int = 0
