"""The storage layout, defined once: the same keys under a local directory and an S3 bucket.

```
runs/run_id=<id>/manifest.json
points/run_id=<id>/shard=<00000>.parquet
outcomes/run_id=<id>/status=<success|failure>/shard=<00000>.parquet
```
"""

from __future__ import annotations

import re
from typing import Literal

OutcomeStatus = Literal["success", "failure"]
SHARD_DIGITS = 5

RUNS = "runs"
POINTS = "points"
OUTCOMES = "outcomes"
MANIFEST = "manifest.json"

_OUTCOME_KEY = re.compile(
    rf"^{OUTCOMES}/run_id=(?P<run_id>[a-z0-9-]+)/status=(?P<status>success|failure)/shard=(?P<shard>\d+)\.parquet$"
)
_RUN_PREFIX = re.compile(rf"^{RUNS}/run_id=(?P<run_id>[a-z0-9-]+)/{re.escape(MANIFEST)}$")


def shard_name(shard_id: int) -> str:
    return f"shard={shard_id:0{SHARD_DIGITS}d}.parquet"


def manifest_key(run_id: str) -> str:
    return f"{RUNS}/run_id={run_id}/{MANIFEST}"


def points_prefix(run_id: str) -> str:
    return f"{POINTS}/run_id={run_id}/"


def points_key(run_id: str, shard_id: int) -> str:
    return points_prefix(run_id) + shard_name(shard_id)


def outcomes_prefix(run_id: str) -> str:
    return f"{OUTCOMES}/run_id={run_id}/"


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
