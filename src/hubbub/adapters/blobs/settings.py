"""Where an S3 bucket is and how to reach it (apart from the adapter, so reading the
command line does not import the S3 client)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class S3Settings:
    bucket: str
    endpoint_url: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: str | None = None  # None: the usual AWS credential chain
    secret_access_key: str | None = None
    prefix: str = "media/"
