"""Task sets by reference to an S3 object: `tasks: s3://bucket/tasksets/<name>.jsonl` with its
SHA-256 in `tasks_sha256`. The config names the object and its content, so it stays atomic: the
orchestrator fetches and verifies it at submit (an unreachable object or a wrong hash is a 400
naming `tasks`), and every worker process fetches and verifies it again before its first point.

On a stage, sweep's roles may read task sets only under `tasksets/` of the stage's results
bucket (`TASKSETS_PREFIX`). boto3 is imported only when a config names an S3 task set."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TASKSETS_PREFIX = "tasksets/"
MAX_BYTES = 32 * 1024 * 1024
"""A task set larger than this is refused before it is read (the worker holds it in memory)."""
RETRY_AFTER_FAILURE_S = 60.0
"""A fetch that failed is not tried again for this long in one process: a shard's points share
the answer, and a user who uploads the object after a refused submit can resubmit a minute later."""

_lock = threading.Lock()
_failures: dict[str, tuple[float, str]] = {}


def _client() -> S3Client:
    try:
        import boto3
    except ImportError:  # pragma: no cover - every sweep runtime installs boto3 with sweep-aws
        raise ValueError("an `s3://` task set needs boto3; install sweep-aws, or use a local file") from None
    with _lock:  # creating clients from boto3's default session is not thread-safe
        return boto3.client("s3")


def fetch(uri: str) -> bytes:
    """The bytes of `s3://bucket/key`; ValueError says why they cannot be had and what to do."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ValueError(f"task set {uri!r} does not name an object: use s3://BUCKET/{TASKSETS_PREFIX}NAME.jsonl")
    with _lock:
        failed = _failures.get(uri)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER_FAILURE_S:
        raise ValueError(failed[1])
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = _client().get_object(Bucket=bucket, Key=key)
        size = int(answer["ContentLength"])
        if size > MAX_BYTES:
            answer["Body"].close()
            raise ValueError(
                f"task set {uri} is {size:,} bytes, over the limit of {MAX_BYTES:,}: split it into smaller sets"
            )
        return answer["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
        message = (
            f"task set {uri} cannot be read ({code or 'error'}): check that it exists; on a stage sweep may "
            f"read task sets only under s3://<results bucket>/{TASKSETS_PREFIX}"
        )
        with _lock:
            _failures[uri] = (time.monotonic(), message)
        raise ValueError(message) from None
