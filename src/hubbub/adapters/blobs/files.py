"""The BlobStore port on the local filesystem (the embedded default): one file per key
under `<data-dir>/media/blobs/<first two characters of the key>/<key>`.

A put renames the staged file into place after fsyncing it, then fsyncs the directory,
so a blob that `put` returned for survives a crash; a crash before the rename leaves only
the staged file, which the next start deletes.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

CHUNK_BYTES = 256 << 10
_KEY = re.compile(r"[0-9a-z-]{8,128}")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def stop(self) -> None:
        pass

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key[:2] / key

    async def put(self, key: str, source: str) -> None:
        await asyncio.to_thread(self._put, self._path(key), Path(source))

    @staticmethod
    def _put(path: Path, source: Path) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(source, path)
        except OSError:  # another file system: copy, then make the copy durable
            staged = path.with_name(path.name + ".part")
            shutil.copyfile(source, staged)
            with open(staged, "rb") as f:
                os.fsync(f.fileno())
            os.replace(staged, path)
        _fsync_dir(path.parent)

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            await asyncio.to_thread(f.seek, start)
            left = end - start + 1
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(CHUNK_BYTES, left))
                if not chunk:
                    raise OSError(f"blob {key} is shorter than expected")
                left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(f.close)

    async def delete(self, key: str) -> None:
        def unlink() -> None:
            path = self._path(key)
            path.unlink(missing_ok=True)
            _fsync_dir(path.parent)

        await asyncio.to_thread(unlink)

    async def keys(self, older_than_ms: int) -> list[str]:
        def scan() -> list[str]:
            found: list[str] = []
            if not self.root.is_dir():
                return found
            for shard in self.root.iterdir():
                if not shard.is_dir():
                    continue
                for entry in shard.iterdir():
                    if _KEY.fullmatch(entry.name) and entry.stat().st_mtime * 1000 < older_than_ms:
                        found.append(entry.name)
            return found

        return await asyncio.to_thread(scan)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
