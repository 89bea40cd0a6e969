"""The storage layout, defined once: the same keys under a local directory and an S3 bucket.

```
runs/run_id=<id>/manifest.json
runs/run_id=<id>/dispatched.json
searches/run_id=<id>/search.json         an adaptive search; its rounds are runs `<id>-r<nnn>`
points/run_id=<id>/shard=<00000>-<execution>-ok<n>-error<m>.parquet
outcomes/run_id=<id>/status=<success|failure>/shard=<00000>.parquet
started/run_id=<id>/shard=<00000>/<execution>.json
cache/run_id=<id>/<points|outcomes>-<digest>.parquet    a finished run's views in one file each; local only
```

Points are written under a key unique to the worker execution that evaluated them, and the shard's
outcome names that execution: an outcome only ever vouches for the rows its own execution wrote.
What the outcome records (its `execution`) is the execution's tag: its random id and the file's row
counts (`execution_tag`), so one listing of a run's points prefix tells every shard's counts
without reading an object (the status path, docs/storage.md). Tags of runs written before counts
were in keys are the bare id (`shard=<00000>-<execution>.parquet`); readers follow them alike.
A second copy of a shard (at-least-once delivery, a retry racing a slow worker) writes its own
file, which no outcome names unless that copy's outcome is the one recorded; readers follow the
outcome and ignore such orphans. `shard=<00000>.parquet` (no execution) is the key runs written
before this protocol used; readers still follow it for an outcome that names no execution.

A worker execution marks that it started a shard (`started/…/<execution>.json`) and removes its
marker once the shard's outcome is recorded. A marker left by another execution means that one
died with its process (or is still running): Lambda redelivers a crashed task with the same
attempt number, so the marker, not the attempt, tells the next execution to isolate its points.

`cache/` holds a copy that the CLI derives from the rest, never a source: a finished run's `points` and
`outcomes` views, each in one file named for a digest of the files it was built from
(`sweep_cli.results.cache`), so a retried shard's new files leave it unused.
"""

from __future__ import annotations

import re
import secrets
from typing import Literal

from sweep_contracts.errors import RunNotFoundError

OutcomeStatus = Literal["success", "failure"]
SHARD_DIGITS = 5

RUNS = "runs"
SEARCHES = "searches"
SEARCH = "search.json"
POINTS = "points"
OUTCOMES = "outcomes"
STARTED = "started"
CACHE = "cache"
MANIFEST = "manifest.json"
DISPATCHED = "dispatched.json"
_TAG = r"[0-9a-f]{16}(?:-ok\d{1,9}-error\d{1,9})?"
EXECUTION_PATTERN = rf"^{_TAG}$"

_OUTCOME_KEY = re.compile(
    rf"^{OUTCOMES}/run_id=(?P<run_id>[a-z0-9-]+)/status=(?P<status>success|failure)/shard=(?P<shard>\d+)\.parquet$"
)
_POINTS_KEY = re.compile(
    rf"^{POINTS}/run_id=(?P<run_id>[a-z0-9-]+)/shard=(?P<shard>\d{{{SHARD_DIGITS}}})(?:-(?P<execution>{_TAG}))?\.parquet$"
)
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_RUN_PREFIX = re.compile(rf"^{RUNS}/run_id=(?P<run_id>[a-z0-9-]+)/{re.escape(MANIFEST)}$")


def shard_name(shard_id: int) -> str:
    return f"shard={shard_id:0{SHARD_DIGITS}d}.parquet"


def checked_run_id(run_id: str) -> str:
    """`run_id` if it can be one key segment, else `RunNotFoundError` naming it as given: every key
    is built here, so no run id from a command line, an API path or `sweep.load` can become `../`
    in a key or a path. Looser than `RUN_ID_PATTERN`, which new runs get at submit: this only keeps
    a key a key (a run id that fails it cannot name a run)."""
    if not _KEY_SEGMENT.fullmatch(run_id) or ".." in run_id:
        raise RunNotFoundError(
            f"`{run_id}` is not a run id.",
            field="run_id",
            value=run_id,
            hint="run ids are 3 to 63 lowercase letters, digits and `-`, starting with a letter or digit; "
            "list them with `sweep runs`.",
        )
    return run_id


def manifest_key(run_id: str) -> str:
    return f"{RUNS}/run_id={checked_run_id(run_id)}/{MANIFEST}"


def search_key(run_id: str) -> str:
    """An adaptive search's record (`sweep_contracts.search.SearchManifest`), created once."""
    return f"{SEARCHES}/run_id={checked_run_id(run_id)}/{SEARCH}"


def dispatch_key(run_id: str) -> str:
    """The run's dispatch record: written once a dispatch (submit or retry) has handed over every shard."""
    return f"{RUNS}/run_id={checked_run_id(run_id)}/{DISPATCHED}"


def points_prefix(run_id: str) -> str:
    return f"{POINTS}/run_id={checked_run_id(run_id)}/"


def new_execution() -> str:
    """A fresh execution id: 64 random bits, so two copies of a shard never share a points key."""
    return secrets.token_hex(8)


def execution_tag(execution: str, ok: int, error: int) -> str:
    """What an execution's outcome records and its points key ends in: its id and the row counts
    of its points file. The counts make the key unique to that file's content as well."""
    return f"{execution}-ok{ok}-error{error}"


def tag_counts(tag: str) -> tuple[int, int] | None:
    """(ok, error) rows of the points file an execution tag names; None for a bare execution id."""
    head, _, error = tag.rpartition("-error")
    _, sep, ok = head.rpartition("-ok")
    if not (sep and ok.isdigit() and ok.isascii() and error.isdigit() and error.isascii()):
        return None
    return int(ok), int(error)


_HEX = frozenset("0123456789abcdef")
_PARQUET = ".parquet"
_SHARD = "shard="
_SUCCESS = "status=success/shard="
_FAILURE = "status=failure/shard="


def is_tag(text: str) -> bool:
    """Whether `text` is an execution tag (`EXECUTION_PATTERN`), without a regex: status checks
    the 10,000 tags of a big run's points listing."""
    if len(text) < 16 or not _HEX.issuperset(text[:16]):
        return False
    if len(text) == 16:
        return True
    ok, sep, error = text[16:].partition("-error")
    return bool(sep) and ok[:3] == "-ok" and _count(ok[3:]) and _count(error)


def _count(text: str) -> bool:
    return 0 < len(text) <= 9 and text.isdigit() and text.isascii()


def outcome_in_run(tail: str) -> tuple[OutcomeStatus, int] | None:
    """(status, shard_id) of an outcome key with its run's prefix (`outcomes_prefix`) cut off, or None
    for any other key: `parse_outcome_key` for a listing of one run, at a few string operations a key."""
    digits = tail[len(_SUCCESS) : -len(_PARQUET)]
    if not (tail.endswith(_PARQUET) and digits.isdigit() and digits.isascii()):
        return None
    if tail.startswith(_SUCCESS):
        return "success", int(digits)
    return ("failure", int(digits)) if tail.startswith(_FAILURE) else None


def points_in_run(tail: str) -> tuple[int, str | None] | None:
    """(shard_id, execution tag or None) of a points key with its run's prefix (`points_prefix`) cut
    off, or None for any other key: `parse_points_key` for a listing of one run."""
    digits = tail[len(_SHARD) : len(_SHARD) + SHARD_DIGITS]
    if not (tail.startswith(_SHARD) and tail.endswith(_PARQUET) and digits.isdigit() and digits.isascii()):
        return None
    rest = tail[len(_SHARD) + SHARD_DIGITS : -len(_PARQUET)]
    if not rest:
        return int(digits), None
    return (int(digits), rest[1:]) if rest[0] == "-" and is_tag(rest[1:]) else None


def block_prefix(block: int) -> str:
    """The key prefix (after `shard=`) of the shards `block × 1,000 … block × 1,000 + 999`: one
    ListObjectsV2 page holds a block's keys, so a run's keys are listed a block per request in parallel."""
    return f"{_SHARD}{block:0{SHARD_DIGITS - 3}d}"


def shard_points_prefix(run_id: str, shard_id: int) -> str:
    """The prefix of every points object of one shard (each execution's, and the legacy key)."""
    return f"{points_prefix(run_id)}shard={shard_id:0{SHARD_DIGITS}d}"


def points_key(run_id: str, shard_id: int, execution: str | None = None) -> str:
    """Where the execution tagged `execution` writes the points of a shard; without one, the
    pre-protocol key."""
    if execution is None:
        return points_prefix(run_id) + shard_name(shard_id)
    return f"{shard_points_prefix(run_id, shard_id)}-{execution}.parquet"


def parse_points_key(key: str) -> tuple[str, int, str | None] | None:
    """(run_id, shard_id, execution tag or None) of a points key, or None for any other key."""
    match = _POINTS_KEY.match(key)
    return (match["run_id"], int(match["shard"]), match["execution"]) if match else None


def outcomes_prefix(run_id: str) -> str:
    return f"{OUTCOMES}/run_id={checked_run_id(run_id)}/"


def outcome_key(run_id: str, status: OutcomeStatus, shard_id: int) -> str:
    return f"{outcomes_prefix(run_id)}status={status}/{shard_name(shard_id)}"


def parse_outcome_key(key: str) -> tuple[str, OutcomeStatus, int] | None:
    """(run_id, status, shard_id) of an outcome key, or None for any other key."""
    match = _OUTCOME_KEY.match(key)
    if match is None:
        return None
    status: OutcomeStatus = "success" if match["status"] == "success" else "failure"
    return match["run_id"], status, int(match["shard"])


def parse_manifest_key(key: str) -> str | None:
    """The run_id of a manifest key, or None for any other key."""
    match = _RUN_PREFIX.match(key)
    return match["run_id"] if match else None


def started_prefix(run_id: str, shard_id: int | None = None) -> str:
    """The prefix of the started markers of a run, or of one of its shards."""
    run = f"{STARTED}/run_id={checked_run_id(run_id)}/"
    return run if shard_id is None else f"{run}shard={shard_id:0{SHARD_DIGITS}d}/"


def started_key(run_id: str, shard_id: int, execution: str) -> str:
    """The marker an execution writes when it starts a shard."""
    return f"{started_prefix(run_id, shard_id)}{execution}.json"


def cache_prefix(run_id: str) -> str:
    """The prefix of a run's derived copies (local results directories only)."""
    return f"{CACHE}/run_id={checked_run_id(run_id)}/"


def cache_key(run_id: str, table: Literal["points", "outcomes"], digest: str) -> str:
    """Where a finished run's `table` view is copied, built from the files whose digest (hex) is `digest`."""
    return f"{cache_prefix(run_id)}{table}-{digest}.parquet"
