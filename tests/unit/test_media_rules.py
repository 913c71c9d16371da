"""core.media's rules, without I/O: what a file is stored as, how it is served, ranges,
names, pixel budgets, attachment lists."""

from __future__ import annotations

import pytest

from hubbub.core.errors import HubbubError
from hubbub.core.media import (
    MAX_ATTACHMENTS,
    ByteRange,
    Unsatisfiable,
    check_attachment_ids,
    check_pixels,
    clean_filename,
    content_disposition,
    parse_range,
    stored_type,
    thumbnail_size,
)


@pytest.mark.parametrize(
    ("sniffed", "claimed", "stored"),
    [
        ("image/png", "image/png", "image/png"),
        ("image/png", None, "image/png"),
        ("image/jpeg", "image/png", "image/jpeg"),  # an image, just another kind: the bytes win
        ("image/png", "application/octet-stream", "image/png"),
        ("application/pdf", "application/pdf", "application/pdf"),
        ("application/pdf", "text/plain", "application/pdf"),
        (None, "text/html", "application/octet-stream"),  # a page is kept only as a file
        (None, None, "application/octet-stream"),
        ("video/mp4", "audio/mp4", "audio/mp4"),  # one container, sound only: the claim
        ("video/webm", "audio/webm", "audio/webm"),
        ("image/heic", "image/heic", "application/octet-stream"),  # not shown inline here
    ],
)
def test_stored_type(sniffed: str | None, claimed: str | None, stored: str) -> None:
    assert stored_type(sniffed, claimed) == stored


@pytest.mark.parametrize(
    ("sniffed", "claimed"),
    [
        (None, "image/png"),  # a page named cat.png
        (None, "video/mp4"),
        ("application/pdf", "image/jpeg"),
        ("image/png", "video/mp4"),
        ("audio/mpeg", "image/gif"),
    ],
)
def test_a_media_claim_the_bytes_do_not_bear_out_is_refused(
    sniffed: str | None, claimed: str
) -> None:
    with pytest.raises(HubbubError) as refused:
        stored_type(sniffed, claimed)
    assert refused.value.code == "unsupported_media"


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=90-", 100, ByteRange(90, 99)),
        ("bytes=90-1000", 100, ByteRange(90, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-1000", 100, ByteRange(0, 99)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
        ("items=0-1", 100, None),  # another unit
        ("bytes=5-2", 100, None),  # invalid: ignored
        ("bytes=abc", 100, None),
        ("Bytes = 1-2", 100, ByteRange(1, 2)),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100),
                                              ("bytes=0-", 0), ("bytes=-5", 0)])  # fmt: skip
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("beach.jpg", "beach.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\photo.png", "photo.png"),
        ("a\x00b\x1fc.txt", "a_b_c.txt"),
        ('quote"s<and>pipes|.pdf', "quote_s_and_pipes_.pdf"),
        ("  .hidden. ", "hidden"),
        ("...", None),
        (None, None),
        ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),  # 255 in all, the extension kept
    ],
)
def test_clean_filename(given: str | None, kept: str | None) -> None:
    assert clean_filename(given) == kept


def test_content_disposition_is_inline_only_for_media() -> None:
    assert content_disposition("image/png", "a.png").startswith("inline;")
    assert content_disposition("video/mp4", None) == "inline"
    for kind in ("application/pdf", "application/octet-stream", "text/html", "image/svg+xml"):
        assert content_disposition(kind, "x").startswith("attachment;")
    header = content_disposition("application/pdf", 'rép "ort".pdf')
    assert 'filename="r?p _ort_.pdf"'.replace("?", "_") in header
    assert "filename*=UTF-8''r%C3%A9p%20%22ort%22.pdf" in header


def test_pixel_budget() -> None:
    check_pixels(7000, 7000)  # 49 megapixels
    for width, height in ((8000, 8000), (20_001, 10), (0, 10)):
        with pytest.raises(HubbubError):
            check_pixels(width, height)
    assert thumbnail_size(4000, 3000) == (320, 240)
    assert thumbnail_size(100, 50) == (100, 50)  # never upscaled
    assert thumbnail_size(10, 10_000) == (1, 320)


def test_attachment_lists() -> None:
    assert check_attachment_ids(None) == []
    assert check_attachment_ids(["1", "22"]) == [1, 22]
    assert check_attachment_ids(["7", "22", "007"]) == [7, 22]  # one id, taken once
    for bad in ([], [str(i) for i in range(MAX_ATTACHMENTS + 1)], ["-1"], ["x"],
                [str(1 << 63)], ["1" * 20], [5]):  # fmt: skip
        with pytest.raises(HubbubError) as refused:
            check_attachment_ids(bad)  # type: ignore[arg-type]
        assert refused.value.code == "bad_request"


def test_describe_a_message_for_a_preview() -> None:
    from hubbub.core.media import Attachment, describe  # noqa: PLC0415

    photo = Attachment("1", "image/jpeg", 10, "s")
    pdf = Attachment("2", "application/pdf", 10, "s", filename="report.pdf")
    assert describe("hi", None) == "hi"
    assert describe("", (photo,)) == "\U0001f4f7 Photo"
    assert describe("Look!", (photo, photo, photo)) == "\U0001f4f7 3 photos Look!"
    assert describe("", (pdf,)) == "\U0001f4ce report.pdf"
    assert describe("", (photo, pdf)) == "\U0001f4ce 2 files"
