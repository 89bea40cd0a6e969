"""The S3 store: the storage layout under `s3://bucket[/prefix]`."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sweep_aws.clients import s3_client
from sweep_contracts.errors import StoreError
from sweep_contracts.storage import ObjectInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}
_EXISTS = {"PreconditionFailed", "412"}
_CONFLICT = "ConditionalRequestConflict"
CONFLICT_ATTEMPTS = 6
"""Tries of a conditional write that S3 answers 409 (another conditional write of the key in progress)."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Store:
    """An S3 bucket (and optional key prefix). Transient errors (500, 503, SlowDown) are retried by
    botocore's standard retry mode; what still fails becomes a `StoreError` naming the key."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: S3Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or s3_client()
        self._sleep = sleep

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _error(self, action: str, key: str, exc: Exception) -> StoreError:
        detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return StoreError(
            f"cannot {action} s3://{self.bucket}/{self.prefix}{key}: {detail}: {exc}",
            field="store",
            value=self.uri,
            hint="check the bucket exists and this role may use it (the deploy guide lists the permissions).",
        )

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", key, exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """A conditional write (`If-None-Match: *`): exactly one of concurrent writers wins.

        S3 answers 412 when the object exists, and 409 `ConditionalRequestConflict` when another
        conditional write of the key is in progress: "try again" (S3 API reference), since that
        other write may yet fail. botocore does not retry a 409, so this does, with jittered backoff."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*")
            except ClientError as exc:
                if _code(exc) in _EXISTS:
                    return False
                if _code(exc) == _CONFLICT and attempt < CONFLICT_ATTEMPTS:
                    self._sleep(random.random() * min(1.0, 0.05 * 2**attempt))
                    continue
                raise self._error("create", key, exc) from exc
            except BotoCoreError as exc:
                raise self._error("create", key, exc) from exc
            return True
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return response["Body"].read()
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            # S3 answers 403, not 404, for a missing key when the role may not list the whole
            # bucket (sweep's roles may list only their prefixes): look before calling it denied
            if _code(exc) == "AccessDenied" and not self.exists(key):
                return None
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc

    def exists(self, key: str) -> bool:
        """A one-key listing rather than HEAD: a role allowed to list only the key's prefix gets a
        true answer (HEAD of a missing key is a 403 without bucket-wide list permission)."""
        try:
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + key, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("check", key, exc) from exc
        return any(item["Key"] == self.prefix + key for item in page.get("Contents", []))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("delete", key, exc) from exc

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"][len(self.prefix) :],
                        tag=str(item.get("ETag", "")),
                        modified=item["LastModified"].timestamp(),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        return (info.key for info in self.list_info(prefix))
