"""The BlobStore port on S3-compatible object storage (AWS S3, MinIO, Ceph, R2, ...),
shared by every node of a cluster, over aiobotocore (botocore's signing and retries,
on the event loop).

A blob is one object, `<prefix><key>`. Files up to PART_BYTES go up in one PUT, bigger
ones as a multipart upload of PART_BYTES parts, each read off the loop, so memory per
upload stays bounded. S3 answers a PUT only once the object is stored durably.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from hubbub.adapters.blobs.settings import S3Settings

PART_BYTES = 8 << 20  # S3 wants parts of at least 5 MiB (but the last)
READ_CHUNK_BYTES = 256 << 10


class S3BlobStore:
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._stack: AsyncExitStack | None = None
        self._client: Any = None

    async def start(self) -> None:
        s = self.settings
        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=s.endpoint_url,
                region_name=s.region,
                aws_access_key_id=s.access_key_id,
                aws_secret_access_key=s.secret_access_key,
                config=BotoConfig(
                    connect_timeout=10, read_timeout=60, retries={"max_attempts": 3}
                ),
            )
        )
        try:
            await self._client.head_bucket(Bucket=s.bucket)
        except ClientError as error:
            if _code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            where = {} if s.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": s.region}
            }
            await self._client.create_bucket(Bucket=s.bucket, **where)

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def _name(self, key: str) -> str:
        return self.settings.prefix + key

    async def put(self, key: str, source: str) -> None:
        try:
            await self._put(key, source)
        except (ClientError, BotoCoreError) as error:
            raise OSError(f"S3 put of {key}: {error}") from error

    async def _put(self, key: str, source: str) -> None:
        bucket, name = self.settings.bucket, self._name(key)
        f = await asyncio.to_thread(open, source, "rb")
        try:
            size = os.fstat(f.fileno()).st_size
            if size <= PART_BYTES:
                body = await asyncio.to_thread(f.read)
                await self._client.put_object(Bucket=bucket, Key=name, Body=body)
                return
            upload = await self._client.create_multipart_upload(Bucket=bucket, Key=name)
            upload_id = upload["UploadId"]
            try:
                parts = []
                number = 1
                while chunk := await asyncio.to_thread(f.read, PART_BYTES):
                    part = await self._client.upload_part(
                        Bucket=bucket, Key=name, UploadId=upload_id, PartNumber=number,
                        Body=chunk,
                    )  # fmt: skip
                    parts.append({"PartNumber": number, "ETag": part["ETag"]})
                    number += 1
                await self._client.complete_multipart_upload(
                    Bucket=bucket, Key=name, UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )  # fmt: skip
            except BaseException:
                await self._client.abort_multipart_upload(
                    Bucket=bucket, Key=name, UploadId=upload_id
                )
                raise
        finally:
            await asyncio.to_thread(f.close)

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            answer = await self._client.get_object(
                Bucket=self.settings.bucket, Key=self._name(key), Range=f"bytes={start}-{end}"
            )
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from None
            raise OSError(f"S3 get of {key}: {error}") from error
        except BotoCoreError as error:
            raise OSError(f"S3 get of {key}: {error}") from error
        try:
            async with answer["Body"] as stream:
                while chunk := await stream.read(READ_CHUNK_BYTES):
                    yield chunk
        except (ClientError, BotoCoreError) as error:
            raise OSError(f"S3 read of {key}: {error}") from error

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete_object(Bucket=self.settings.bucket, Key=self._name(key))
        except (ClientError, BotoCoreError) as error:
            raise OSError(f"S3 delete of {key}: {error}") from error

    async def keys(self, older_than_ms: int) -> list[str]:
        found = []
        prefix = self.settings.prefix
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.bucket, Prefix=prefix
        )
        async for page in pages:
            for item in page.get("Contents", []):
                if item["LastModified"].timestamp() * 1000 < older_than_ms:
                    found.append(item["Key"][len(prefix) :])
        return found


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
