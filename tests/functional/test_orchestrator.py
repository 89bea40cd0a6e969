"""The orchestrator core: submit, idempotency, nothing left behind on bad input, status and retry."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sweep_contracts import layout
from sweep_contracts.errors import SweepError
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore, MemoryStore
from sweep_orchestrator.dispatch import DispatchReport, RecordingDispatcher
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.status import run_status
from sweep_orchestrator.submit import submit_run
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import FIXED_NOW, run_sweep, runtime_for

MAZE: dict[str, Any] = {
    "experiment": "maze",
    "run_id": "maze-1",
    "config": {"size": 9, "max_moves": 300},
    "grids": [
        {"name": "A", "axes": {"recall_interval": [1, 10]}},
        {"name": "B", "axes": {"strategy": ["wall-follower", "random-walk"]}},
    ],
    "repeats": 3,
    "shard_size": 5,
}


def test_submit_writes_the_manifest_then_dispatches_every_shard(memory_store: MemoryStore) -> None:
    rt, dispatcher = runtime_for(memory_store)
    result, manifest = submit_run(MAZE, rt)
    assert result.estimate is not None  # tests/functional/test_run_estimate.py checks its numbers
    assert result.model_dump(exclude={"estimate"}) == {
        "run_id": "maze-1",
        "points": 12,
        "shards": 3,
        "shard_size": 5,
        "existing": False,
        "dispatched": 3,
        "delegated": 0,
        "dispatch_failed": 0,
        "warnings": [],
    }
    stored = RunManifest.from_json(memory_store.get(layout.manifest_key("maze-1")) or b"")
    assert stored == manifest
    assert stored.created_at == FIXED_NOW
    assert stored.settings["max_points"] == {"value": 1_000_000, "source": "default"}
    assert [(e["shard_id"], e["start"], e["stop"], e["config"]) for e in dispatcher.events] == [
        (0, 0, 5, MAZE["config"]),
        (1, 5, 10, MAZE["config"]),
        (2, 10, 12, MAZE["config"]),
    ]
    # the manifest is written before any shard is dispatched
    assert memory_store.calls[0] == ("put_if_absent", layout.manifest_key("maze-1"))


def test_a_generated_run_id_is_recorded_in_the_manifest(memory_store: MemoryStore) -> None:
    rt, _ = runtime_for(memory_store)
    result, manifest = submit_run({k: v for k, v in MAZE.items() if k != "run_id"}, rt)
    assert result.run_id.startswith("maze-20261121-120000-")
    assert manifest.request.run_id == result.run_id


def test_resubmitting_the_same_content_is_a_no_op(memory_store: MemoryStore) -> None:
    rt, dispatcher = runtime_for(memory_store)
    submit_run(MAZE, rt)
    puts = [c for c in memory_store.calls if c[0] == "put"]
    result, _ = submit_run(json.loads(json.dumps(MAZE)), rt)
    assert (result.existing, result.dispatched, len(dispatcher.events)) == (True, 0, 3)
    assert [c for c in memory_store.calls if c[0] == "put"] == puts


def test_reusing_a_run_id_for_other_content_is_a_conflict(memory_store: MemoryStore) -> None:
    rt, dispatcher = runtime_for(memory_store)
    submit_run(MAZE, rt)
    with pytest.raises(SweepError) as info:
        submit_run({**MAZE, "repeats": 4}, rt)
    assert (info.value.code, info.value.http_status, info.value.field) == ("RUN_CONFLICT", 409, "run_id")
    assert len(dispatcher.events) == 3


BAD_REQUESTS = [
    ({**MAZE, "config": {}}, "MISSING_CONFIG", 400),
    ({k: v for k, v in MAZE.items() if k != "config"}, "MISSING_CONFIG", 400),
    ({**MAZE, "experiment": "nope"}, "UNKNOWN_EXPERIMENT", 400),
    ({**MAZE, "config": {"size": 1}}, "INVALID_EXPERIMENT_CONFIG", 400),
    ({**MAZE, "grids": [{"name": "A", "axes": {"strategy": ["teleport"]}}]}, "INVALID_EXPERIMENT_CONFIG", 400),
    ({**MAZE, "repeats": 10**6}, "LIMIT_EXCEEDED", 413),
    ({**MAZE, "shard_size": 0}, "INVALID_REQUEST", 400),
    ({**MAZE, "points": [{"size": 9}] * 20_000, "grids": None}, "LIMIT_EXCEEDED", 413),
]


@pytest.mark.parametrize(("payload", "code", "status"), BAD_REQUESTS)
def test_bad_input_is_refused_and_leaves_nothing_behind(payload: dict[str, Any], code: str, status: int) -> None:
    store = MemoryStore()
    rt, dispatcher = runtime_for(store)
    with pytest.raises(SweepError) as info:
        submit_run(payload, rt)
    assert (info.value.code, info.value.http_status) == (code, status)
    assert store.objects == {}
    assert dispatcher.events == []


def test_a_whole_run_succeeds_and_status_adds_up(local_store: LocalStore) -> None:
    result, _ = run_sweep(MAZE, local_store)
    status = run_status(local_store, result.run_id)
    expected = {
        "state": "succeeded",
        "shards_total": 3,
        "shards_success": 3,
        "shards_pending": 0,
        "points_ok": 12,
        "points_error": 0,
        "points_not_run": 0,
        "missing_shards": [],
    }
    assert status.model_dump(include=set(expected)) == expected


class FlakyDispatcher(RecordingDispatcher):
    """Cannot hand over shard 1."""

    def dispatch(self, manifest: RunManifest, shards: Any) -> DispatchReport:
        kept = [s for s in shards if s[0] != 1]
        report = super().dispatch(manifest, kept)
        report.failed = {1: "TooManyRequestsException after 6 attempts"} if len(kept) < len(shards) else {}
        return report


def test_undispatchable_shards_get_a_failure_outcome_and_retry_completes_them(memory_store: MemoryStore) -> None:
    # GIVEN a dispatcher that cannot hand over shard 1
    settings = SystemSettings.resolve({}, source="default")
    flaky = FlakyDispatcher()
    rt = Runtime(store=memory_store, dispatcher=flaky, settings=lambda: settings, clock=lambda: FIXED_NOW)
    result, _ = submit_run(MAZE, rt)
    assert result.dispatch_failed == 1
    deps = WorkerDeps(store=memory_store, registry=Registry.default())
    for event in flaky.events:
        process_event(event, deps)
    # THEN shard 1 has a DISPATCH_FAILED outcome and the run is partial
    status = run_status(memory_store, "maze-1")
    assert (status.state, status.error_codes) == ("partial", {"DISPATCH_FAILED": 1})
    assert status.failed_shards[0].model_dump() == {
        "shard_id": 1,
        "attempt": 1,
        "error_code": "DISPATCH_FAILED",
        "error_message": "TooManyRequestsException after 6 attempts",
    }
    # WHEN retried with a working dispatcher THEN only shard 1 is re-dispatched, as attempt 2
    working = RecordingDispatcher()
    retry = retry_run(Runtime(store=memory_store, dispatcher=working, settings=lambda: settings), "maze-1")
    assert (retry.failed, retry.missing, retry.dispatched) == (1, 0, 1)
    assert [(e["shard_id"], e["attempt"]) for e in working.events] == [(1, 2)]
    process_event(working.events[0], deps)
    assert run_status(memory_store, "maze-1").state == "succeeded"


def test_missing_shards_show_as_pending_and_are_retried(memory_store: MemoryStore) -> None:
    rt, dispatcher = runtime_for(memory_store)
    submit_run(MAZE, rt)
    process_event(dispatcher.events[0], WorkerDeps(store=memory_store, registry=Registry.default()))
    status = run_status(memory_store, "maze-1", now=FIXED_NOW)
    assert (status.state, status.shards_pending, status.missing_shards, status.points_not_run) == (
        "running",
        2,
        [1, 2],
        7,
    )
    # a retry while they may still be running leaves them be
    again = RecordingDispatcher()
    early = retry_run(
        Runtime(store=memory_store, dispatcher=again, settings=rt.settings, clock=lambda: FIXED_NOW), "maze-1"
    )
    assert (early.running, early.dispatched, again.events) == (2, 0, [])
    # once overdue (Lambda must have run or dropped them: `overdue_at`), the run is stalled, and retried
    assert status.overdue_at is not None
    late = status.overdue_at + timedelta(seconds=60)
    stalled = run_status(memory_store, "maze-1", now=late)
    assert (stalled.state, stalled.stalled_for_s) == ("stalled", 60.0)
    retried = retry_run(
        Runtime(store=memory_store, dispatcher=again, settings=rt.settings, clock=lambda: late), "maze-1"
    )
    assert (retried.missing, retried.running) == (2, 0)
    assert [(e["shard_id"], e["attempt"]) for e in again.events] == [(1, 2), (2, 2)]


def test_a_run_where_every_shard_failed_is_failed(memory_store: MemoryStore) -> None:
    payload = {**MAZE, "experiment": "synthetic", "config": {"sleep_ms": 1}, "grids": None, "grid": {"x": [1, 2]}}
    tight = SystemSettings.resolve({"shard_time_budget_s": 1, "time_budget_margin_ms": 5000}, source="default")
    result, outcomes = run_sweep(payload, memory_store, tight)
    assert {o["error_code"] for o in outcomes} == {"TIME_BUDGET"}
    assert run_status(memory_store, result.run_id).state == "failed"
