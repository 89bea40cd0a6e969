"""Opening the store a URI names: `s3://bucket[/prefix]` or a local directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweep_contracts.storage import LocalStore, ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def open_store(uri: str, s3: S3Client | None = None) -> ObjectStore:
    if uri.startswith("s3://"):
        from sweep_aws.s3 import S3Store  # boto3 only for an S3 store: a local store starts faster

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix, client=s3)
    return LocalStore(uri.removeprefix("file://"))
