"""Task sets by reference to an S3 object: `tasks: s3://bucket/tasksets/<name>.jsonl` with its
SHA-256 in `tasks_sha256`. The config names the object and its content, so it stays atomic: the
orchestrator fetches and verifies it at submit (an unreachable object or a wrong hash is a 400
naming `tasks`), and every worker process fetches and verifies it again before its first point.

On a stage (code running in a Lambda function), a task set may be an object under `tasksets/` of
the stage's results bucket only (`TASKSETS_PREFIX`): any other value is refused by looking at the
text alone, before any file or object is touched, so a caller cannot make the orchestrator read
its own files or another run's objects and answer with their hash. boto3 is imported only when a
config names an S3 task set."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sweep_contracts import environment
from sweep_contracts.errors import StoreError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client

TASKSETS_PREFIX = "tasksets/"
MAX_BYTES = 32 * 1024 * 1024
"""A task set larger than this is refused before it is read, and reading stops past it."""
CHUNK_BYTES = 1024 * 1024
MAX_ATTEMPTS = 5
"""botocore's standard retries (throttling such as `SlowDown`, 5xx, dropped connections), as every
S3 read of sweep's: a failure that outlasts them is `StoreError`, transient, never a verdict."""
_TRANSIENT_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"})

_lock = threading.Lock()


@functools.cache
def stage_bucket() -> str | None:
    """On a stage, the bucket whose `tasksets/` holds the task sets it may read ("" when its store is
    not a bucket: then it reads none); None off a stage, where the user's own files are fair game.
    Read once per process from what Lambda and the stack set in the function's environment."""
    if not os.environ.get(environment.LAMBDA_FUNCTION):
        return None
    store = os.environ.get(environment.STORE, "")
    return store.removeprefix("s3://").partition("/")[0] if store.startswith("s3://") else ""


def _on_stage_only(uri: str, bucket: str) -> bool:
    head = f"s3://{bucket}/{TASKSETS_PREFIX}"
    if not bucket or not uri.startswith(head):
        return False
    # S3 keys are literal, but a `..` segment is not what anyone uploading a set writes, and
    # clients and proxies on the way may normalise it out of the path: refuse it outright
    parts = uri[len(head) :].split("/")
    return all(p not in ("", ".", "..") for p in parts) and all(" " <= c != "\x7f" for c in uri)


def check_stage_reference(tasks: str, bucket: str) -> None:
    """On a stage, refuse every task set that is not an object under the stage's `tasksets/`, from
    the text alone; the message is the same whether or not such a file or object exists."""
    if not _on_stage_only(tasks, bucket):
        raise ValueError(
            f"task set {tasks!r} is not read on a stage: a stage reads task sets only from "
            f"s3://{bucket}/{TASKSETS_PREFIX} (upload it with `aws s3 cp SET.jsonl "
            f"s3://{bucket}/{TASKSETS_PREFIX}SET.jsonl`)"
        )


@dataclass(frozen=True)
class Fetched:
    """A task set's bytes, their SHA-256 (computed while they were read) and the object's ETag."""

    data: bytearray
    sha256: str
    etag: str | None


def read_capped(read: Callable[[int], bytes], where: str) -> tuple[bytearray, str]:
    """Everything `read` gives, hashed as it arrives; ValueError past `MAX_BYTES` (a source that
    never ends, or one larger than it said)."""
    data, digest = bytearray(), hashlib.sha256()
    while chunk := read(CHUNK_BYTES):
        digest.update(chunk)
        data += chunk
        if len(data) > MAX_BYTES:
            raise ValueError(f"task set {where} is over the limit of {MAX_BYTES:,} bytes: split it into smaller sets")
    return data, digest.hexdigest()


def _client() -> S3Client:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - every sweep runtime installs boto3 with sweepkit-aws
        raise ValueError(
            "an `s3://` task set needs boto3: install the `aws` extra (`sweepkit-cli[aws]`), or use a local file"
        ) from None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=10, read_timeout=30
    )
    with _lock:  # creating clients from boto3's default session is not thread-safe
        return boto3.client("s3", config=config)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ValueError(f"task set {uri!r} does not name an object: use s3://BUCKET/{TASKSETS_PREFIX}NAME.jsonl")
    return bucket, key


def _unavailable(uri: str, cause: str) -> StoreError:
    return StoreError(
        f"task set {uri} could not be read after {MAX_ATTEMPTS} attempts ({cause}); S3 is throttling or failing.",
        field="config.tasks",
        value=uri,
        hint="this is transient: resubmit, or rerun the failed shards with `sweep retry RUN_ID`.",
    )


def _refused(uri: str, exc: ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in _TRANSIENT_CODES or status >= 500 or status == 429:
        return _unavailable(uri, code or str(status))
    if code in ("NoSuchKey", "404"):
        return ValueError(f"task set {uri} cannot be read ({code}): it does not exist; upload it, or correct `tasks`")
    return ValueError(
        f"task set {uri} cannot be read ({code or status}): check that sweep's roles may read it; on a stage "
        f"they read task sets only under s3://<results bucket>/{TASKSETS_PREFIX}"
    )


def fetch(uri: str, *, if_none_match: str | None = None) -> Fetched | None:
    """The object `s3://bucket/key`, hashed while it streams in; None when its ETag is still
    `if_none_match`. ValueError says why it cannot be had for good (absent, refused, too large, not
    an object); `StoreError` when S3 failed past its retries (transient: the caller must not record
    a verdict)."""
    bucket, key = _split(uri)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        extra = {"IfNoneMatch": if_none_match} if if_none_match else {}
        answer = _client().get_object(Bucket=bucket, Key=key, **extra)  # type: ignore[arg-type]
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if if_none_match and (status == 304 or exc.response.get("Error", {}).get("Code") == "304"):
            return None
        raise _refused(uri, exc) from None
    except BotoCoreError as exc:
        raise _unavailable(uri, type(exc).__name__) from None
    body = answer["Body"]
    try:
        size = int(answer["ContentLength"])
        if size > MAX_BYTES:
            raise ValueError(
                f"task set {uri} is {size:,} bytes, over the limit of {MAX_BYTES:,}: split it into smaller sets"
            )
        data, digest = read_capped(body.read, uri)
    except (BotoCoreError, OSError) as exc:  # the body broke off mid-stream: botocore retries requests only
        raise _unavailable(uri, type(exc).__name__) from None
    finally:
        body.close()
    return Fetched(data, digest, answer.get("ETag"))
