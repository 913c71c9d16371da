"""The BlobStore port's guarantees, on the filesystem and on S3 (moto's server, a real
HTTP S3 endpoint): a put is readable whole and by any byte range, big files go up in
parts, a second put of a key is harmless, delete is idempotent, a missing key is
FileNotFoundError, and `keys` lists what was written before a time."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.adapters.blobs.files import FileBlobStore
from hubbub.adapters.blobs.s3 import PART_BYTES, S3BlobStore
from hubbub.adapters.blobs.settings import S3Settings
from hubbub.core.clock import now_ms
from hubbub.ports import BlobStore
from tests.s3_server import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["files", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "files":
        yield FileBlobStore(tmp_path / "blobs")
        return
    server = request.getfixturevalue("s3_server")
    yield S3BlobStore(
        S3Settings(
            bucket=f"b{uuid.uuid4().hex[:12]}",  # a new bucket: the adapter creates it
            endpoint_url=server.url,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )
    )


def _file(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.up"
    path.write_bytes(data)
    return str(path)


async def _read(store: BlobStore, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


def test_put_then_read_whole_and_by_range(blobs: BlobStore, tmp_path: Path) -> None:
    async def body() -> None:
        await blobs.start()
        try:
            data = os.urandom(300_000)
            key = "a" * 64 + "-0001"
            await blobs.put(key, _file(tmp_path, data))
            assert await _read(blobs, key, 0, len(data) - 1) == data
            assert await _read(blobs, key, 10, 19) == data[10:20]
            assert await _read(blobs, key, len(data) - 1, len(data) - 1) == data[-1:]
            await blobs.put(key, _file(tmp_path, data))  # again: harmless
            assert await _read(blobs, key, 0, len(data) - 1) == data
        finally:
            await blobs.stop()

    asyncio.run(body())


def test_a_file_bigger_than_a_part_goes_up_whole(blobs: BlobStore, tmp_path: Path) -> None:
    async def body() -> None:
        await blobs.start()
        try:
            data = os.urandom(PART_BYTES * 2 + 12_345)  # three parts for S3
            key = "b" * 64 + "-0001"
            await blobs.put(key, _file(tmp_path, data))
            assert await _read(blobs, key, 0, len(data) - 1) == data
            middle = PART_BYTES - 5
            assert await _read(blobs, key, middle, middle + 9) == data[middle : middle + 10]
        finally:
            await blobs.stop()

    asyncio.run(body())


def test_delete_and_missing_keys(blobs: BlobStore, tmp_path: Path) -> None:
    async def body() -> None:
        await blobs.start()
        try:
            key = "c" * 64 + "-0001"
            await blobs.put(key, _file(tmp_path, b"hello"))
            await blobs.delete(key)
            await blobs.delete(key)  # twice: harmless
            with pytest.raises(FileNotFoundError):
                await _read(blobs, key, 0, 4)
            with pytest.raises(FileNotFoundError):
                await _read(blobs, "d" * 64 + "-0001", 0, 0)
        finally:
            await blobs.stop()

    asyncio.run(body())


def test_keys_lists_what_was_written_before_a_time(blobs: BlobStore, tmp_path: Path) -> None:
    async def body() -> None:
        await blobs.start()
        try:
            keys = {f"{c * 64}-0001" for c in "ef"}
            for key in keys:
                await blobs.put(key, _file(tmp_path, key.encode()))
            assert set(await blobs.keys(now_ms() + 60_000)) == keys
            assert await blobs.keys(now_ms() - 60_000) == []
        finally:
            await blobs.stop()

    asyncio.run(body())
