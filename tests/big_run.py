"""A big run's objects written straight into a store, as its workers would have left them, without
running a shard: what status sees of a 10,000-shard run, made in seconds. For counting the requests
status makes (tests/functional/test_status_requests.py) and timing them (bench/status.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import ErrorCode, Outcome
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.submit import submit_run
from tests.helpers import FIXED_NOW, runtime_for

RUN = "big-run"
SHARD_SIZE = 4
Put = Callable[[str, bytes], None]


def sweep(shards: int) -> dict[str, Any]:
    return {
        "experiment": "synthetic",
        "run_id": RUN,
        "config": {"y": 0.5},
        "grid": {"x": [i / 10 for i in range(SHARD_SIZE)]},
        "repeats": shards,  # not a grid of `shards` values: every shard task would carry all of them
        "shard_size": SHARD_SIZE,
    }


@dataclass
class Expected:
    """What the run's outcomes add up to."""

    success: int = 0
    failure: int = 0
    points_ok: int = 0
    points_error: int = 0


def submit_big(store: ObjectStore, shards: int) -> RunManifest:
    """The run's manifest and dispatch record, written by the real submit (its shards are not run)."""
    submit_run(sweep(shards), runtime_for(store)[0])
    return load_manifest(store, RUN)


def _outcome(shard_id: int, failed: bool, ok: int, error: int, execution: str | None) -> Outcome:
    started = FIXED_NOW + timedelta(seconds=shard_id)
    if failed:
        return Outcome.failure(
            run_id=RUN,
            shard_id=shard_id,
            code=ErrorCode.TIME_BUDGET if execution else ErrorCode.WORKER_CRASHED,
            message="the shard ran out of time" if execution else "the worker process died",
            points_total=SHARD_SIZE,
            points_ok=ok,
            points_failed=error,
            started_at=started,
            finished_at=started + timedelta(seconds=2),
            execution=execution,
        )
    return Outcome(
        run_id=RUN,
        shard_id=shard_id,
        status="success",
        points_total=SHARD_SIZE,
        points_ok=ok,
        points_failed=error,
        started_at=started,
        finished_at=started + timedelta(seconds=2),
        duration_ms=2000.0,
        execution=execution,
    )


def write_outcomes(put: Put, manifest: RunManifest, failures: int = 0, duplicates: int = 0) -> Expected:
    """Every shard's outcome and points object. The first `failures` shards (spread over the run)
    fail, every other one of them with rows (time budget) and the rest without (a crash); every
    third success has a point error; `duplicates` successes also keep a losing copy's points file
    (a duplicate delivery in flight). Points objects are empty: status lists them, reads none."""
    shards = manifest.plan.shard_count
    failing = {k * shards // failures for k in range(failures)} if failures else set()
    duplicated = sorted(set(range(1, shards, 7)) - failing)[:duplicates]
    expected = Expected()
    for shard_id in range(shards):
        failed = shard_id in failing
        with_rows = not failed or shard_id % 2 == 0
        ok, error = (SHARD_SIZE - (shard_id % 3 == 0), int(shard_id % 3 == 0)) if with_rows else (0, 0)
        ok = min(ok, 2) if failed else ok  # a time budget stops a shard midway
        execution = layout.execution_tag(f"{shard_id:016x}", ok, error) if with_rows else None
        outcome = _outcome(shard_id, failed, ok, error, execution)
        if execution is not None:
            put(layout.points_key(RUN, shard_id, execution), b"")
        if shard_id in duplicated:
            put(layout.points_key(RUN, shard_id, layout.execution_tag("f" * 16, SHARD_SIZE, 0)), b"")
        put(outcome.key, outcome.to_parquet())
        expected.failure += failed
        expected.success += not failed
        expected.points_ok += ok
        expected.points_error += error
    return expected
