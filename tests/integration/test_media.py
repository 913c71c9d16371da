"""Attachments over the wire, against a real server: upload, attach, download (ranges,
validators, safe headers), who may fetch what, dedupe on disk, limits, and hostile files
(a decompression bomb, a page named .png, a truncated photo) refused with clear errors
while the server keeps serving everyone."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import ExifTags, Image

from hubbub.client import ApiError, HubbubClient
from tests.support import ServerProcess, new_user, run

pytestmark = pytest.mark.timeout(120)


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/"'
    b' exif:GPSLatitude="52,31.2N"/></rdf:RDF></x:xmpmeta>'
)


def jpeg(
    width: int, height: int, *, exif: Image.Exif | None = None, color: int = 90,
    extra: dict[str, bytes] | None = None,
) -> bytes:  # fmt: skip
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), (color, 120, 200))
    more: dict[str, object] = {"exif": exif} if exif is not None else {}
    img.save(buf, "JPEG", quality=90, **more, **(extra or {}))
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height: a signature, an IHDR and an empty IDAT (what a
    decompression bomb looks like before anyone decodes it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def media_files(data_dir: Path) -> list[Path]:
    root = data_dir / "media" / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    extra = ("--max-upload-bytes", "200000", "--daily-upload-bytes", "600000")
    s = ServerProcess(tmp_path_factory.mktemp("media-small"), 2.0, *extra).start()
    yield s
    s.stop()


def test_a_photo_travels_cleaned_and_arrives_with_its_size(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob = await new_user(server.url), await new_user(server.url)
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 6  # stored sideways: shown rotated 90 degrees
        exif[ExifTags.Base.Make] = "Phone"
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.5)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
        photo = jpeg(400, 200, exif=exif, extra={"comment": b"at home, 5 Elm St", "xmp": XMP})
        assert Image.open(io.BytesIO(photo)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert b"GPSLatitude" in photo and b"Elm St" in photo
        up = await ann.upload(photo, content_type="image/jpeg", filename="../../etc/beach.jpg")
        assert up["content_type"] == "image/jpeg" and up["filename"] == "beach.jpg"
        assert (up["width"], up["height"]) == (200, 400)  # the orientation applied
        assert up["thumbnail"] == f"/v1/media/{up['media_id']}/thumbnail"
        wa, wb = await ann.connect(), await bob.connect()
        sent = await wa.send_message("", to=bob.user_id, attachments=[up["media_id"]])
        got = await wb.expect("message")
        assert got["message_id"] == sent["message_id"] and got["body"] == ""
        (carried,) = got["attachments"]
        assert carried == {
            "media_id": up["media_id"], "content_type": "image/jpeg", "size": up["size"],
            "sha256": up["sha256"], "filename": "beach.jpg", "width": 200, "height": 400,
        }  # fmt: skip
        history = await bob.history(got["conversation_id"])
        assert history[0]["attachments"] == got["attachments"]
        r = await bob.download(up["media_id"])
        assert r.status_code == 200 and len(r.content) == up["size"]
        import hashlib  # noqa: PLC0415

        assert hashlib.sha256(r.content).hexdigest() == up["sha256"]
        stored = Image.open(io.BytesIO(r.content))
        assert stored.size == (200, 400)
        found = stored.getexif()
        assert not found.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Make not in found
        assert b"Exif" not in r.content[:4096] and b"Phone" not in r.content
        assert b"GPSLatitude" not in r.content and b"Elm St" not in r.content  # XMP, comment
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        assert r.headers["content-disposition"].startswith("inline;")
        assert r.headers["etag"] == f'"{up["sha256"]}"'
        assert "private" in r.headers["cache-control"]
        thumb = await bob.download(up["media_id"], thumbnail=True)
        assert thumb.headers["content-type"] == "image/jpeg"
        small = Image.open(io.BytesIO(thumb.content))
        assert max(small.size) <= 320 and small.size[1] > small.size[0]
        await wa.close()
        await wb.close()

    run(body())


def test_who_may_fetch_a_file(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob, cy, stranger, late = [await new_user(server.url) for _ in range(5)]
        group = await ann.create_group("trip", [bob.user_id or "", cy.user_id or ""])
        up = await ann.upload(os.urandom(5000), filename="notes.bin")
        assert up["content_type"] == "application/octet-stream"
        assert (await ann.download(up["media_id"])).status_code == 200  # the uploader, unsent
        with pytest.raises(ApiError) as refused:
            await bob.download(up["media_id"])  # not shared yet
        assert refused.value.status == 404
        await ann.post_message(group["conversation_id"], "", attachments=[up["media_id"]])
        for member in (bob, cy):
            r = await member.download(up["media_id"])
            assert r.status_code == 200
            assert r.headers["content-disposition"].startswith("attachment;")
        await ann.remove_member(group["conversation_id"], cy.user_id or "")
        # a former member still sees what her read-only history shows, until she deletes it
        assert (await cy.download(up["media_id"])).status_code == 200
        await cy.request("DELETE", f"/v1/conversations/{group['conversation_id']}")
        await ann.add_member(group["conversation_id"], late.user_id or "")
        assert (await late.download(up["media_id"])).status_code == 200  # history shows it
        answers = []
        for who, media_id in ((cy, up["media_id"]), (stranger, up["media_id"]),
                              (stranger, "123456789012345678")):  # fmt: skip
            r = await who._http.get(
                f"/v1/media/{media_id}", headers={"Authorization": f"Bearer {who.token}"}
            )
            answers.append((r.status_code, r.json()))
        assert answers[0] == answers[1] == answers[2]  # deleted, stranger, unknown: alike
        assert answers[0][0] == 404 and answers[0][1]["error"]["code"] == "not_found"
        anonymous = await ann._http.get(f"/v1/media/{up['media_id']}")
        assert anonymous.status_code == 401
        # someone else's upload cannot be attached, and nothing is stored for the try
        theirs = await stranger.upload(b"mine, not yours", filename="x.txt")
        with pytest.raises(ApiError) as refused:
            await ann.post_message(group["conversation_id"], "hi", attachments=[theirs["media_id"]])
        assert refused.value.code == "not_found"
        with pytest.raises(ApiError):
            await bob.download(theirs["media_id"])

    run(body())


def test_ranges_and_validators(server: ServerProcess) -> None:
    async def body() -> None:
        ann = await new_user(server.url)
        data = os.urandom(10_000)
        up = await ann.upload(data)
        assert up["content_type"] == "application/octet-stream"
        media_id = up["media_id"]
        r = await ann.download(media_id, byte_range="bytes=100-199")
        assert r.status_code == 206 and r.content == data[100:200]
        assert r.headers["content-range"] == "bytes 100-199/10000"
        r = await ann.download(media_id, byte_range="bytes=-50")
        assert r.status_code == 206 and r.content == data[-50:]
        r = await ann.download(media_id, byte_range="bytes=9990-")
        assert r.content == data[9990:] and r.headers["content-length"] == "10"
        r = await ann.download(media_id, byte_range="bytes=20000-")
        assert r.status_code == 416 and r.headers["content-range"] == "bytes */10000"
        r = await ann.download(media_id, byte_range="bytes=0-1,5-6")  # several: the whole
        assert r.status_code == 200 and r.content == data
        auth = {"Authorization": f"Bearer {ann.token}"}
        etag = r.headers["etag"]
        r = await ann._http.get(f"/v1/media/{media_id}", headers={**auth, "If-None-Match": etag})
        assert r.status_code == 304 and r.content == b""
        stale = {**auth, "Range": "bytes=0-9", "If-Range": '"other"'}
        r = await ann._http.get(f"/v1/media/{media_id}", headers=stale)
        assert r.status_code == 200 and r.content == data
        head = await ann._http.head(f"/v1/media/{media_id}", headers=auth)
        assert head.status_code == 200 and head.headers["content-length"] == "10000"

    run(body())


def test_a_claim_the_bytes_do_not_bear_out_is_refused(server: ServerProcess) -> None:
    async def body() -> None:
        ann = await new_user(server.url)
        page = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
        with pytest.raises(ApiError) as refused:
            await ann.upload(page, content_type="image/png", filename="cat.png")
        assert refused.value.status == 415 and refused.value.code == "unsupported_media"
        # as a plain file it is kept, but only ever as a download, never a page
        up = await ann.upload(page, content_type="text/html", filename="cat.html")
        assert up["content_type"] == "application/octet-stream"
        r = await ann.download(up["media_id"])
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"].startswith("attachment;")
        with pytest.raises(ApiError) as refused:  # the same bytes again: the same verdict
            await ann.upload(page, content_type="image/png", filename="cat.png")
        assert refused.value.code == "unsupported_media"
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        drawing = await ann.upload(svg, content_type="image/svg+xml", filename="x.svg")
        assert drawing["content_type"] == "application/octet-stream"  # a file, not an image
        r = await ann.download(drawing["media_id"])
        assert r.headers["content-disposition"].startswith("attachment;")

    run(body())


def test_hostile_images_are_refused_and_the_server_serves_on(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob = await new_user(server.url), await new_user(server.url)
        wb = await bob.connect()
        bomb = png_header_only(40_000, 40_000)  # 1.6 gigapixels in 60 bytes
        with pytest.raises(ApiError) as refused:
            await ann.upload(bomb, content_type="image/png", filename="bomb.png")
        assert refused.value.status == 413 and "megapixels" in refused.value.message
        truncated = jpeg(640, 480)[:1500]
        with pytest.raises(ApiError) as refused:
            await ann.upload(truncated, content_type="image/jpeg", filename="cut.jpg")
        assert refused.value.status == 415 and "truncated" in refused.value.message
        liar = png_header_only(100, 100)  # a header and no pixels
        with pytest.raises(ApiError) as refused:
            await ann.upload(liar, content_type="image/png")
        assert refused.value.status == 415
        # everyone is still served: a real photo goes through and a message arrives
        up = await ann.upload(jpeg(64, 48), content_type="image/jpeg")
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"],
                               "still here", attachments=[up["media_id"]])  # fmt: skip
        got = await wb.expect("message")
        assert got["body"] == "still here" and got["attachments"][0]["width"] == 64
        staging = server.data_dir / "media" / "staging"
        assert list(staging.iterdir()) == []  # refusals kept nothing
        await wb.close()

    run(body())


def test_the_same_bytes_are_stored_once(fresh_server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob = await new_user(fresh_server.url), await new_user(fresh_server.url)
        data = os.urandom(50_000)
        one = await ann.upload(data, filename="a.bin")
        two = await bob.upload(data, filename="b.bin")
        again = await ann.upload(data, filename="a.bin")
        assert one["sha256"] == two["sha256"] == again["sha256"]
        assert len({one["media_id"], two["media_id"], again["media_id"]}) == 3
        files = media_files(fresh_server.data_dir)
        assert len(files) == 1 and files[0].read_bytes() == data
        # a photo uploaded twice is cleaned once: one file and one thumbnail on disk
        photo = jpeg(300, 200)
        p1 = await ann.upload(photo, content_type="image/jpeg")
        p2 = await bob.upload(photo, content_type="image/jpeg")
        assert p1["sha256"] == p2["sha256"]
        assert len(media_files(fresh_server.data_dir)) == 3
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{fresh_server.url}/metrics")).text
        assert "hubbub_media_uploads_total 5.0" in metrics
        assert "hubbub_media_uploads_deduplicated_total 3.0" in metrics

    run(body())


def test_size_limit_and_daily_quota(small_server: ServerProcess) -> None:
    async def body() -> None:
        ann = await new_user(small_server.url)
        with pytest.raises(ApiError) as refused:
            await ann.upload(os.urandom(200_001))
        assert refused.value.status == 413 and refused.value.code == "too_large"

        async def chunks() -> object:  # no Content-Length: the limit holds while reading
            for _ in range(30):
                yield os.urandom(10_000)

        auth = {"Authorization": f"Bearer {ann.token}"}
        r = await ann._http.post("/v1/media", content=chunks(), headers=auth)
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        assert list((small_server.data_dir / "media" / "staging").iterdir()) == []
        assert media_files(small_server.data_dir) == []
        for _ in range(3):
            await ann.upload(os.urandom(190_000))
        with pytest.raises(ApiError) as refused:
            await ann.upload(os.urandom(100_000))
        assert refused.value.status == 429 and refused.value.code == "rate_limited"
        with pytest.raises(ApiError) as refused:
            await ann.upload(b"x", filename="n" * 1025)
        assert refused.value.code == "bad_request"

    run(body())


def test_attachment_rules_on_the_socket(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob = await new_user(server.url), await new_user(server.url)
        ids = [(await ann.upload(b"file %d" % i))["media_id"] for i in range(11)]
        wa = await ann.connect()
        for attachments, code in (
            (ids, "bad_request"),  # 11: one too many
            (["not-an-id"], "bad_request"),
            ([], "bad_request"),
            (["123456789012345678"], "not_found"),
        ):
            with pytest.raises(ApiError) as refused:
                await wa.send_message("x", to=bob.user_id, attachments=attachments)
            assert refused.value.code == code, attachments
        with pytest.raises(ApiError):
            await wa.send_message("", to=bob.user_id)  # no body and nothing attached
        sent = await wa.send_message("ten", to=bob.user_id, attachments=ids[:10])
        history = await bob.history(sent["conversation_id"])
        assert [a["media_id"] for a in history[0]["attachments"]] == ids[:10]
        assert len(history) == 1  # the refusals stored nothing
        await wa.close()

    run(body())


def test_the_python_client_streams_a_file_from_disk(server: ServerProcess, tmp_path: Path) -> None:
    async def body() -> None:
        ann = await new_user(server.url)
        path = tmp_path / "big report.pdf"
        data = b"%PDF-1.7\n" + os.urandom(3_000_000)
        path.write_bytes(data)
        up = await ann.upload(path, content_type="application/pdf")
        assert up["filename"] == "big report.pdf" and up["content_type"] == "application/pdf"
        assert up["size"] == len(data)
        r = await ann.download(up["media_id"])
        assert r.content == data
        assert "filename*=UTF-8''big%20report.pdf" in r.headers["content-disposition"]

    run(body())


def test_uploads_in_parallel_from_many_users(server: ServerProcess) -> None:
    async def body() -> None:
        users = [await new_user(server.url) for _ in range(6)]
        photos = [jpeg(800, 600, color=c) for c in range(6)]

        async def one(user: HubbubClient, photo: bytes) -> dict:
            return await user.upload(photo, content_type="image/jpeg")  # type: ignore[no-any-return]

        results = await asyncio.gather(*(one(u, p) for u, p in zip(users, photos, strict=True)))
        assert all(r["width"] == 800 and r["height"] == 600 for r in results)

    run(body())


def mp4(duration_ms: int, width: int, height: int) -> bytes:
    """A minimal MP4 (ftyp, moov with mvhd and one track header, mdat): what a phone's
    video says of itself in its header."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, duration_ms)
               + struct.pack(">IH", 0x10000, 0x100) + b"\0" * 10 + matrix + b"\0" * 24
               + struct.pack(">I", 2))  # fmt: skip
    tkhd = box(b"tkhd", b"\0\0\0\x03" + struct.pack(">IIIII", 0, 0, 1, 0, duration_ms)
               + b"\0" * 8 + struct.pack(">hhhH", 0, 0, 0, 0) + matrix
               + struct.pack(">II", width << 16, height << 16))  # fmt: skip
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    return ftyp + box(b"moov", mvhd + box(b"trak", tkhd)) + box(b"mdat", os.urandom(4000))


def test_a_video_says_how_long_it_is_and_plays_by_ranges(server: ServerProcess) -> None:
    async def body() -> None:
        ann = await new_user(server.url)
        clip = mp4(4500, 640, 360)
        up = await ann.upload(clip, content_type="video/mp4", filename="clip.mp4")
        assert up["content_type"] == "video/mp4"
        assert (up["duration_ms"], up["width"], up["height"]) == (4500, 640, 360)
        assert "thumbnail" not in up  # no video decoder here: no poster frame
        r = await ann.download(up["media_id"], byte_range="bytes=0-1023")
        assert r.status_code == 206 and r.content == clip[:1024]
        assert r.headers["content-disposition"].startswith("inline;")
        sound = await ann.upload(clip, content_type="audio/mp4", filename="voice.m4a")
        assert sound["content_type"] == "audio/mp4" and sound["duration_ms"] == 4500

    run(body())


def test_an_upload_cut_off_leaves_nothing(fresh_server: ServerProcess) -> None:
    async def body() -> None:
        ann = await new_user(fresh_server.url)
        reader, writer = await asyncio.open_connection("127.0.0.1", fresh_server.port)
        head = (
            "POST /v1/media HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {ann.token}\r\nContent-Length: 5000000\r\n\r\n"
        )
        writer.write(head.encode() + os.urandom(2_000_000))
        await writer.drain()
        staging = fresh_server.data_dir / "media" / "staging"
        for _ in range(100):  # the upload is being staged ...
            if list(staging.iterdir()):
                break
            await asyncio.sleep(0.05)
        assert list(staging.iterdir()), "the upload never started"
        writer.close()  # ... and the client goes away mid-file
        for _ in range(100):
            if not list(staging.iterdir()):
                break
            await asyncio.sleep(0.05)
        assert list(staging.iterdir()) == []
        assert media_files(fresh_server.data_dir) == []
        up = await ann.upload(b"after")  # and the next upload is fine
        assert up["size"] == 5
        del reader

    run(body())


def test_uploads_count_against_the_rate_limit(tmp_path: Path) -> None:
    s = ServerProcess(tmp_path / "data", 2.0, "--rate-limit", "uploads_per_user=3/0.01").start()
    try:

        async def body() -> None:
            ann = await new_user(s.url)
            for i in range(3):
                await ann.upload(b"n%d" % i)
            with pytest.raises(ApiError) as refused:
                await ann.upload(b"one more")
            assert refused.value.status == 429 and refused.value.code == "rate_limited"
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"{s.url}/metrics")).text
            assert 'hubbub_media_uploads_refused_total{reason="rate_limited"} 1.0' in metrics

        run(body())
    finally:
        s.stop()


def test_a_lost_file_is_an_error_not_a_broken_answer(fresh_server: ServerProcess) -> None:
    async def body() -> None:
        ann = await new_user(fresh_server.url)
        up = await ann.upload(os.urandom(1000))
        (stored,) = media_files(fresh_server.data_dir)
        stored.unlink()  # an operator's mistake, a disk gone bad
        with pytest.raises(ApiError) as refused:
            await ann.download(up["media_id"])
        assert refused.value.status == 503 and refused.value.code == "unavailable"
        assert (await ann.download((await ann.upload(b"fine"))["media_id"])).content == b"fine"

    run(body())
    assert "Traceback" not in fresh_server.log()
    assert "is missing" in fresh_server.log()
