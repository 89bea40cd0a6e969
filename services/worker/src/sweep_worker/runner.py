"""Run one shard: evaluate its points with per-point error capture inside the time budget, then
write its points and exactly one outcome. Pure of AWS: the store and the clock are passed in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sweep_contracts import layout
from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.errors import InvalidTaskError, MissingConfigError, SweepError, UnknownExperimentError
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.outcomes import ErrorCode, Outcome, record_outcome
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import ObjectStore
from sweep_contracts.tasks import ShardTask, identify_task, parse_task
from sweep_worker.budget import PointAlarm, PointInterrupted, TimeBudget
from sweep_worker.concurrent import run_concurrently
from sweep_worker.evaluate import evaluate
from sweep_worker.sink import PointRows

log = logging.getLogger("sweep.worker")

Secrets = Callable[[Sequence[str]], Mapping[str, str]]
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _no_secrets(names: Sequence[str]) -> Mapping[str, str]:
    if names:
        raise LookupError(f"no secret store is configured, and the experiment needs {', '.join(names)}")
    return {}


@dataclass(frozen=True)
class WorkerDeps:
    """What the worker needs from its runtime; the handler builds it once per cold start."""

    store: ObjectStore
    registry: Registry
    secrets: Secrets = _no_secrets
    clock: Clock = _utcnow


@dataclass
class ShardResult:
    """What happened to the points of a shard."""

    rows: PointRows
    stop_code: ErrorCode | None = None
    stop_message: str | None = None


def run_points(
    task: ShardTask,
    experiment: Experiment[Any],
    budget: TimeBudget,
    secrets: Mapping[str, str],
) -> ShardResult:
    """Evaluate the shard's points in index order. A raising point becomes an `error` row and the
    shard goes on; when the budget runs short the shard stops and says how many points were not run.
    An I/O-bound experiment's points run concurrently (`sweep_worker.concurrent`)."""
    space = task.point_space()
    rows = PointRows(task.shard_id)
    result = ShardResult(rows)
    index = task.start
    if experiment.io_bound:
        result.stop_message = run_concurrently(task, space, experiment, budget, secrets, rows)
        return _account_for_unrun(task, budget, result)
    with PointAlarm() as alarm:
        try:
            for index in range(task.start, task.stop):
                if not budget.allows_next():
                    break
                point = space.point(index)
                effective = space.effective_config(point)
                started = time.perf_counter()
                alarm.arm(budget.left_ms())
                try:
                    outcome = evaluate(experiment, effective, secrets)
                finally:
                    alarm.disarm()
                duration_ms = (time.perf_counter() - started) * 1000
                budget.record(duration_ms)
                rows.add(
                    point_index=index,
                    series=point.series,
                    repeat=point.repeat,
                    params={k: param_text(v) for k, v in point.params.items()},
                    metrics=outcome.metrics,
                    error=outcome.error,
                    duration_ms=duration_ms,
                    config_json=canonical_json(effective),
                    finished_at_ms=time.time_ns() // 1_000_000,
                    output=outcome.output,
                    call_json=outcome.call_json,
                )
        except PointInterrupted:
            result.stop_message = f"point {index} ran past the time budget and was interrupted. "
    return _account_for_unrun(task, budget, result)


def _account_for_unrun(task: ShardTask, budget: TimeBudget, result: ShardResult) -> ShardResult:
    rows = result.rows
    not_run = task.points_total - len(rows)
    if not_run:
        result.stop_code = ErrorCode.TIME_BUDGET
        result.stop_message = (
            f"{result.stop_message or ''}The time budget ran short after {len(rows)} of {task.points_total} "
            f"points; {not_run} points were not run (margin {budget.margin_ms:.0f} ms kept for writing results). "
            "Use a smaller shard_size, or `sweep retry` to run them again."
        )
    return result


class _ShardFailed(Exception):  # noqa: N818 - internal control flow, never leaves this module
    """The shard ends in a `failure` outcome with this code and message."""

    def __init__(self, code: ErrorCode, message: str, rows: PointRows | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rows = rows


def _budget(task: ShardTask, remaining_ms: Callable[[], float] | None) -> TimeBudget:
    settings = SystemSettings.resolve(task.settings, source="default")
    if remaining_ms is not None:
        return TimeBudget(remaining_ms, settings.time_budget_margin_ms)
    return TimeBudget.fixed(settings.shard_time_budget_s, settings.time_budget_margin_ms)


def _run_shard(task: ShardTask, deps: WorkerDeps, remaining_ms: Callable[[], float] | None) -> PointRows:
    """Evaluate and write the shard's points; raise `_ShardFailed` for every way it can fail."""
    try:
        experiment = deps.registry.get(task.experiment)
    except UnknownExperimentError as exc:
        raise _ShardFailed(ErrorCode.EXPERIMENT_UNAVAILABLE, str(exc)) from exc
    try:
        secrets = deps.secrets(experiment.secrets)
    except LookupError as exc:
        message = f"a secret of experiment `{task.experiment}` is unavailable: {exc}"
        raise _ShardFailed(ErrorCode.SECRET_UNAVAILABLE, message) from exc
    try:
        result = run_points(task, experiment, _budget(task, remaining_ms), secrets)
    except SweepError as exc:
        raise _ShardFailed(ErrorCode.INVALID_TASK, str(exc)) from exc
    except Exception as exc:
        log.exception("shard %s/%s: unexpected error", task.run_id, task.shard_id)
        raise _ShardFailed(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}") from exc
    try:
        deps.store.put(layout.points_key(task.run_id, task.shard_id), result.rows.to_parquet())
    except Exception as exc:
        message = f"writing the points failed: {exc}"
        raise _ShardFailed(ErrorCode.STORE_WRITE_FAILED, message, result.rows) from exc
    if result.stop_code is not None:
        raise _ShardFailed(result.stop_code, result.stop_message or "", result.rows)
    return result.rows


def _duplicate(run_id: str, shard_id: int) -> dict[str, Any]:
    return {"run_id": run_id, "shard_id": shard_id, "status": "success", "duplicate": True}


def process_event(
    event: Any,
    deps: WorkerDeps,
    *,
    remaining_ms: Callable[[], float] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Handle one shard task end to end: exactly one outcome, returned as a small dict.

    Raises only when the event is so malformed that no outcome can be recorded (no run or shard),
    or when the store cannot take even the failure outcome — then the runtime's retries and
    on-failure destination take over."""
    started = deps.clock()
    try:
        task = parse_task(event)
    except (MissingConfigError, InvalidTaskError) as exc:
        ident = identify_task(event)
        if ident is None:
            raise
        run_id, shard_id, total, attempt = ident.run_id, ident.shard_id, ident.points_total, ident.attempt
        code = ErrorCode.MISSING_CONFIG if isinstance(exc, MissingConfigError) else ErrorCode.INVALID_TASK
        failure = _ShardFailed(code, str(exc))
    else:
        run_id, shard_id, total, attempt = task.run_id, task.shard_id, task.points_total, task.attempt
        if deps.store.exists(layout.outcome_key(run_id, "success", shard_id)):
            log.info("shard %s/%s already succeeded; duplicate delivery ignored", run_id, shard_id)
            return _duplicate(run_id, shard_id)
        try:
            rows = _run_shard(task, deps, remaining_ms)
        except _ShardFailed as exc:
            failure = exc
        else:
            finished = deps.clock()
            outcome = Outcome(
                run_id=run_id,
                shard_id=shard_id,
                attempt=attempt,
                status="success",
                points_total=total,
                points_ok=rows.ok,
                points_failed=rows.failed,
                started_at=started,
                finished_at=finished,
                duration_ms=(finished - started).total_seconds() * 1000,
                request_id=request_id,
            )
            record_outcome(deps.store, outcome)
            return summary(outcome)
    outcome = Outcome.failure(
        run_id=run_id,
        shard_id=shard_id,
        attempt=attempt,
        code=failure.code,
        message=failure.message,
        points_total=total,
        points_ok=failure.rows.ok if failure.rows else 0,
        points_failed=failure.rows.failed if failure.rows else 0,
        started_at=started,
        finished_at=deps.clock(),
        request_id=request_id,
    )
    if not record_outcome(deps.store, outcome):
        log.info("shard %s/%s already succeeded; late %s not recorded", run_id, shard_id, failure.code.value)
        return _duplicate(run_id, shard_id)
    log.warning("shard %s/%s failed: %s %s", run_id, shard_id, failure.code.value, failure.message)
    return summary(outcome)


def summary(outcome: Outcome) -> dict[str, Any]:
    """The handler's return value: the outcome without timestamps."""
    return outcome.model_dump(mode="json", exclude={"started_at", "finished_at"})
