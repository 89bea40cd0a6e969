"""S3's 409 `ConditionalRequestConflict` means "another conditional write of this key is in
progress: try again", not "the object exists" (issue 22, item 8). The client below answers as the
S3 API reference documents: 409 while the other write is in progress, then 412 or 200."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sweep_aws.s3 import CONFLICT_ATTEMPTS, S3Store
from sweep_contracts.errors import StoreError


def s3_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


class ConflictingS3:
    """409 for the first `conflicts` conditional puts; then the key is absent (or `exists`)."""

    def __init__(self, conflicts: int, exists: bool = False) -> None:
        self.conflicts, self.exists, self.puts = conflicts, exists, 0
        self.objects: dict[str, bytes] = {}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.puts += 1
        if self.puts <= self.conflicts:
            raise s3_error(409, "ConditionalRequestConflict")
        if self.exists:
            raise s3_error(412, "PreconditionFailed")
        self.objects[kwargs["Key"]] = kwargs["Body"]
        return {}


def test_a_conflict_is_retried_and_the_write_wins_when_the_other_one_failed() -> None:
    client = ConflictingS3(conflicts=2)
    store = S3Store("b", client=client, sleep=lambda s: None)  # type: ignore[arg-type]
    assert store.put_if_absent("outcomes/x.parquet", b"ours") is True
    assert client.objects == {"outcomes/x.parquet": b"ours"}
    assert client.puts == 3


def test_a_conflict_then_the_other_write_landed_is_exists() -> None:
    client = ConflictingS3(conflicts=1, exists=True)
    assert S3Store("b", client=client, sleep=lambda s: None).put_if_absent("k", b"x") is False  # type: ignore[arg-type]


def test_a_conflict_that_never_clears_is_a_store_error_not_exists() -> None:
    client = ConflictingS3(conflicts=100)
    store = S3Store("b", client=client, sleep=lambda s: None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="ConditionalRequestConflict"):
        store.put_if_absent("k", b"x")
    assert client.puts == CONFLICT_ATTEMPTS
