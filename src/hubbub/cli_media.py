"""`hubbub serve` options for attachments: upload limits and where files are kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hubbub.adapters.blobs.settings import S3Settings
from hubbub.services.media import MediaPolicy

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--max-upload-bytes", default=100 << 20, show_default=True,
        type=click.IntRange(min=1), envvar="HUBBUB_MAX_UPLOAD_BYTES",
        help="Largest file one upload may be (413 too_large beyond; nothing is kept).",
    ),
    click.option(
        "--daily-upload-bytes", default=2 << 30, show_default=True,
        type=click.IntRange(min=1), envvar="HUBBUB_DAILY_UPLOAD_BYTES",
        help="Bytes one user may upload in 24 hours (429 rate_limited beyond).",
    ),
    click.option(
        "--s3-bucket", default=None, envvar="HUBBUB_S3_BUCKET",
        help="Keep media in this S3 bucket (created if missing) instead of under "
        "--data-dir: what a cluster needs, so every node serves every file.",
    ),
    click.option(
        "--s3-endpoint-url", default=None, envvar="HUBBUB_S3_ENDPOINT_URL",
        help="An S3-compatible service (MinIO, Ceph, R2...); default: AWS.",
    ),
    click.option("--s3-region", default="us-east-1", show_default=True,
                 envvar="HUBBUB_S3_REGION", help="The bucket's region."),
    click.option(
        "--s3-prefix", default="media/", show_default=True, envvar="HUBBUB_S3_PREFIX",
        help="Key prefix of Hubbub's objects in the bucket.",
    ),
    click.option(
        "--s3-access-key-id", default=None, envvar="HUBBUB_S3_ACCESS_KEY_ID",
        help="Credentials (default: the AWS chain: AWS_ACCESS_KEY_ID, ~/.aws, an "
        "instance role).",
    ),
    click.option("--s3-secret-access-key", default=None, envvar="HUBBUB_S3_SECRET_ACCESS_KEY",
                 help="The secret of --s3-access-key-id."),
]  # fmt: skip


def media_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def media_policy(o: dict[str, Any]) -> MediaPolicy:
    return MediaPolicy(o["max_upload_bytes"], o["daily_upload_bytes"])


def s3_settings(o: dict[str, Any]) -> S3Settings | None:
    if not o["s3_bucket"]:
        for name in ("s3_endpoint_url", "s3_access_key_id", "s3_secret_access_key"):
            if o[name]:
                flag = "--" + name.replace("_", "-")
                raise click.BadParameter("needs --s3-bucket", param_hint=flag)
        return None
    if (o["s3_access_key_id"] is None) != (o["s3_secret_access_key"] is None):
        raise click.BadParameter(
            "give both --s3-access-key-id and --s3-secret-access-key",
            param_hint="--s3-access-key-id",
        )
    return S3Settings(
        bucket=o["s3_bucket"],
        endpoint_url=o["s3_endpoint_url"],
        region=o["s3_region"],
        access_key_id=o["s3_access_key_id"],
        secret_access_key=o["s3_secret_access_key"],
        prefix=o["s3_prefix"],
    )
