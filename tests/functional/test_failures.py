"""One recorder for a shard that ended without its worker writing an outcome: each of the five
paths that find such a shard (submit, retry, the fan-out, the local pool, reconcile) stores the
row `ShardFailure.outcome` describes, and none of them contradicts a success."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sweep_aws.invoke import InvokeResult
from sweep_cli.local.engine import PoolDispatcher
from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import ErrorCode, Outcome, record_outcome
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.deps import OrchestratorDeps
from sweep_orchestrator.dispatch_task import DispatchTask
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.fanout import handle_dispatch
from sweep_orchestrator.lambda_dispatch import LambdaDispatcher
from sweep_orchestrator.reconcile import reconcile
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.submit import submit_run
from tests.helpers import FIXED_NOW

SWEEP: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "fail-1",
    "config": {"noise": 0.0},
    "grid": {"x": [1, 2, 3, 4, 5]},
    "shard_size": 2,
}
REFUSED = InvokeResult(False, 404, "ResourceNotFoundException", "Function not found: w")


class Lambda:
    """An async-invoke API that refuses the shards in `refuse` (not retryable) and takes the rest."""

    def __init__(self, refuse: frozenset[int] = frozenset()) -> None:
        self.refuse = refuse

    def invoke_async(self, function: str, payload: bytes) -> InvokeResult:
        return REFUSED if json.loads(payload).get("shard_id") in self.refuse else InvokeResult(True)


def runtime(store: LocalStore, refuse: frozenset[int] = frozenset({1})) -> Runtime:
    settings = SystemSettings.resolve({}, source="default")
    return Runtime(
        store=store,
        dispatcher=LambdaDispatcher(Lambda(refuse), "w", sleep=lambda s: None),
        settings=lambda: settings,
        clock=lambda: FIXED_NOW,
    )


def via_submit(store: LocalStore) -> None:
    submit_run(SWEEP, runtime(store))


def via_retry(store: LocalStore) -> None:
    rt = runtime(store)
    submit_run(SWEEP, rt)  # shard 1 fails at attempt 1; the retry sends (and fails) attempt 2
    retry_run(rt, "fail-1")


def via_fanout(store: LocalStore) -> None:
    manifest = _manifest_only(store)
    rt = runtime(store)
    assert isinstance(rt.dispatcher, LambdaDispatcher)
    deps = OrchestratorDeps(rt, rt.dispatcher, "test", "/sweep/test/", 0)
    task = DispatchTask.for_shards(manifest.task_factory(), [(0, 1), (1, 3), (2, 1)])
    handle_dispatch(task.model_dump(mode="json"), deps)


def via_local_pool(store: LocalStore) -> None:
    manifest = _manifest_only(store)
    PoolDispatcher._record(store, manifest, [(1, 1)], ErrorCode.WORKER_CRASHED, "a local worker process died")


def via_reconcile(store: LocalStore) -> None:
    manifest = _manifest_only(store)
    record = {
        "version": "1.0",
        "requestContext": {"requestId": "req-9", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": manifest.task_factory().event(1, attempt=2),
        "responsePayload": {"errorType": "Runtime.ExitError", "errorMessage": "signal: killed"},
    }
    reconcile(record, store, lambda: FIXED_NOW)


def _manifest_only(store: LocalStore) -> RunManifest:
    """Submit with a dispatcher that accepts everything, so only the path under test records."""
    _, manifest = submit_run(SWEEP, runtime(store, refuse=frozenset()))
    return manifest


PATHS: dict[str, tuple[Callable[[LocalStore], None], ShardFailure]] = {
    "submit": (via_submit, ShardFailure(1, 1, 2, ErrorCode.DISPATCH_FAILED, REFUSED.describe())),
    "retry": (via_retry, ShardFailure(1, 2, 2, ErrorCode.DISPATCH_FAILED, REFUSED.describe())),
    "fanout": (via_fanout, ShardFailure(1, 3, 2, ErrorCode.DISPATCH_FAILED, REFUSED.describe())),
    "local pool": (via_local_pool, ShardFailure(1, 1, 2, ErrorCode.WORKER_CRASHED, "a local worker process died")),
    "reconcile": (
        via_reconcile,
        ShardFailure(
            1,
            2,
            2,
            ErrorCode.WORKER_CRASHED,
            "the worker invocation failed (RetriesExhausted, 3 attempts): Runtime.ExitError: signal: killed",
            request_id="req-9",
        ),
    ),
}


def stored(store: LocalStore, status: str, shard_id: int = 1) -> Outcome | None:
    data = store.get(layout.outcome_key("fail-1", status, shard_id))  # type: ignore[arg-type]
    return None if data is None else Outcome.from_parquet(data, "fail-1")


def times_aside(outcome: Outcome | None) -> dict[str, Any]:
    """The row without its timestamps (the local pool stamps wall-clock time), which must still
    describe a failure that ran no point: it starts when it ends."""
    assert outcome is not None
    assert outcome.started_at == outcome.finished_at
    assert outcome.duration_ms == 0
    return outcome.model_dump(exclude={"started_at", "finished_at"})


@pytest.mark.parametrize("path", list(PATHS))
def test_every_path_records_the_row_its_shard_failure_describes(path: str, tmp_path: Path) -> None:
    # GIVEN a run whose shard 1 fails on this path
    trigger, failure = PATHS[path]
    store = LocalStore(tmp_path / "via")
    # WHEN the path records it
    trigger(store)
    # THEN the stored row is the one recording the same ShardFailure directly gives
    direct = LocalStore(tmp_path / "direct")
    assert record_failures(direct, "fail-1", [failure], FIXED_NOW) == 1
    assert times_aside(stored(store, "failure")) == times_aside(stored(direct, "failure"))
    assert stored(store, "success") is None


@pytest.mark.parametrize("path", ["fanout", "local pool", "reconcile"])
def test_no_path_contradicts_a_shard_that_already_succeeded(path: str, tmp_path: Path) -> None:
    # GIVEN shard 1 already has its success (a duplicate delivery finished first)
    store = LocalStore(tmp_path / "via")
    _manifest_only(store)
    success = Outcome(
        run_id="fail-1",
        shard_id=1,
        status="success",
        points_total=2,
        points_ok=2,
        started_at=FIXED_NOW,
        finished_at=FIXED_NOW,
        duration_ms=0,
    )
    record_outcome(store, success)
    # WHEN the path reports a failure for it
    PATHS[path][0](store)
    # THEN the success stands and no failure is written beside it
    assert stored(store, "failure") is None
    assert stored(store, "success") == success


def test_a_shard_failure_row_starts_and_ends_when_it_is_recorded() -> None:
    failure = ShardFailure(4, 2, 7, ErrorCode.DISPATCH_FAILED, "x" * 5000, request_id="r")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=FIXED_NOW.tzinfo)
    row = failure.outcome("run-1", now)
    assert row.model_dump() == {
        "run_id": "run-1",
        "shard_id": 4,
        "attempt": 2,
        "status": "failure",
        "points_total": 7,
        "points_ok": 0,
        "points_failed": 0,
        "error_code": ErrorCode.DISPATCH_FAILED,
        "error_message": "x" * 1999 + "…",
        "started_at": now,
        "finished_at": now,
        "duration_ms": 0.0,
        "request_id": "r",
        "execution": None,  # vouches for no points file: none was written
    }
