"""The MediaInspector port: what an uploaded file is, made safe, off the event loop.

Work runs in a bounded pool of threads (Pillow and hashlib release the GIL while they
decode and hash), behind a semaphore, so at most `workers` files are decoded at once and
at most `queue` more wait; beyond that an upload is refused `unavailable` rather than
queued without bound. Each decode is bounded before it starts: the dimensions come from
the header, and an image over the pixel budget is refused before a pixel is decoded.

Images: the EXIF orientation is applied to the pixels and every metadata block (EXIF,
GPS above all, XMP, comments, text chunks) is left behind by re-encoding; the colour
profile is kept (without it colours shift). A JPEG that needs no rotation keeps its
quantisation tables (`quality="keep"`), so cleaning costs it almost nothing. Thumbnails
are JPEG, the longer side 320 px, from the cleaned image.

Video and audio: the duration (and a video's size) from the container's header, with
hachoir (pure Python, reads only the headers it needs). No poster frame: that needs a
video decoder (ffmpeg), which this package does not bring.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import filetype  # type: ignore[import-untyped]
from hachoir.core import config as hachoir_config  # type: ignore[import-untyped]
from hachoir.metadata import extractMetadata  # type: ignore[import-untyped]
from hachoir.parser import createParser  # type: ignore[import-untyped]
from PIL import Image, ImageOps, UnidentifiedImageError

from hubbub.core.errors import HubbubError
from hubbub.core.media import (
    AUDIO,
    IMAGES,
    MAX_PIXELS,
    THUMBNAIL_SIDE,
    VIDEOS,
    Inspection,
    Prepared,
    check_pixels,
    stored_type,
    thumbnail_size,
    unsupported,
)

log = logging.getLogger("hubbub.media")
T = TypeVar("T")
SNIFF_BYTES = 8192
MAX_FRAME_PIXELS = 4 * MAX_PIXELS  # an animation: all its frames together
_PILLOW_FORMATS = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"
}  # fmt: skip
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard, behind check_pixels
hachoir_config.quiet = True  # its warnings about odd files are not ours to print


class PillowInspector:
    def __init__(self, workers: int = 2, queue: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="media")
        self._slots = asyncio.Semaphore(workers + queue)
        self._waiting = 0
        self._limit = workers + queue

    async def prepare(
        self, path: str, claimed: str | None, sha256: str, size: int
    ) -> Prepared:
        return await self._run(_prepare, path, claimed, sha256, size)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._waiting >= self._limit:
            raise HubbubError("unavailable", "too many uploads are being processed; retry")
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _prepare(path: str, claimed: str | None, sha256: str, size: int) -> Prepared:
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    sniffed = kind.mime if kind is not None else None
    content_type = stored_type(sniffed, claimed)
    if content_type in IMAGES:
        return _prepare_image(path, content_type)
    if content_type in VIDEOS or content_type in AUDIO:
        return Prepared(_probe_av(path, content_type), path, sha256, size)
    return Prepared(Inspection(content_type), path, sha256, size)


def _prepare_image(path: str, content_type: str) -> Prepared:
    fmt = _PILLOW_FORMATS[content_type]
    cleaned = path + ".clean"
    thumb = path + ".thumb"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[fmt]) as img:
                check_pixels(*img.size)  # from the header: nothing is decoded yet
                frames = getattr(img, "n_frames", 1)
                if frames * img.size[0] * img.size[1] > MAX_FRAME_PIXELS:
                    raise HubbubError(
                        "too_large", f"the animation has too many pixels ({frames} frames)"
                    )
                width, height = _clean(img, fmt, frames, cleaned)
            with Image.open(cleaned, formats=[fmt]) as img:
                if fmt == "JPEG":  # decode at 1/2..1/8 scale: a quarter of the full decode
                    img.draft("RGB", (2 * THUMBNAIL_SIDE, 2 * THUMBNAIL_SIDE))
                _thumbnail(img, thumb)
    except HubbubError:
        _remove(cleaned, thumb)
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        _remove(cleaned, thumb)
        limit = MAX_PIXELS // 1_000_000
        raise HubbubError(
            "too_large", f"the image has too many pixels (at most {limit} megapixels)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        _remove(cleaned, thumb)
        log.info("refused an image: %s", error)
        message = f"the file is not a readable {content_type} (damaged or truncated)"
        raise unsupported(message) from None
    sha, size = _digest(cleaned)
    thumb_sha, thumb_size = _digest(thumb)
    return Prepared(
        Inspection(content_type, width, height), cleaned, sha, size, thumb, thumb_sha, thumb_size
    )


# what Pillow would otherwise carry from the source into the re-encoded file
_CARRIED = ("comment", "xmp", "XML:com.adobe.xmp", "exif", "photoshop", "extension")


def _clean(img: Image.Image, fmt: str, frames: int, out: str) -> tuple[int, int]:
    """Re-encode without metadata, the EXIF orientation applied; the size it has then."""
    icc = img.info.get("icc_profile")
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    orientation = img.getexif().get(0x0112, 1)
    for key in _CARRIED:  # comments and XMP can hold a place as well as EXIF can
        img.info.pop(key, None)
    if frames > 1:  # an animation keeps its frames and timing (orientation is for photos)
        img.load()
        keep = {k: img.info[k] for k in ("duration", "loop", "disposal") if k in img.info}
        img.save(out, fmt, save_all=True, **keep, **extra)
        return img.size
    if fmt == "JPEG" and orientation in (1, None):
        img.save(out, "JPEG", quality="keep", **extra)  # same tables: no loss to speak of
        return img.size
    upright = ImageOps.exif_transpose(img)
    for key in _CARRIED:
        upright.info.pop(key, None)
    if fmt == "JPEG":
        upright.save(out, "JPEG", quality=92, **extra)
    elif fmt == "WEBP":
        upright.save(out, "WEBP", quality=90, **extra)
    else:
        upright.save(out, fmt, **extra)
    return upright.size


def _thumbnail(img: Image.Image, out: str) -> None:
    img.seek(0)
    frame = img.convert("RGBA") if img.mode in ("RGBA", "LA", "P") else img.convert("RGB")
    frame.thumbnail(thumbnail_size(*frame.size), Image.Resampling.LANCZOS)
    if frame.mode == "RGBA":  # JPEG has no alpha: put it on white
        flat = Image.new("RGB", frame.size, (255, 255, 255))
        flat.paste(frame, mask=frame.getchannel("A"))
        frame = flat
    frame.save(out, "JPEG", quality=80)


def _probe_av(path: str, content_type: str) -> Inspection:
    """Duration (and a video's size) as the container states them; nothing if it does not."""
    try:
        parser = createParser(path)
        if parser is None:
            return Inspection(content_type)
        with parser:
            metadata = extractMetadata(parser)
        if metadata is None:
            return Inspection(content_type)
        duration = metadata.get("duration", None)
        width = metadata.get("width", None) if content_type in VIDEOS else None
        height = metadata.get("height", None) if content_type in VIDEOS else None
        ms = int(duration.total_seconds() * 1000) if duration is not None else None
        return Inspection(content_type, _positive(width), _positive(height), ms)
    except Exception as error:  # a container hachoir cannot read: keep type and size
        log.info("no duration for an upload (%s): %s", content_type, error)
        return Inspection(content_type)


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _digest(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _remove(*paths: str) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)


