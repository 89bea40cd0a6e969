"""Run one shard: evaluate its points with per-point error capture inside the time budget, then
write its points and exactly one outcome. Pure of AWS: the store and the clock are passed in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweep_contracts import layout
from sweep_contracts.errors import (
    InvalidTaskError,
    MissingConfigError,
    SecretUnavailableError,
    StoreError,
    SweepError,
    UnknownExperimentError,
)
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.outcomes import ErrorCode, Outcome, delete_quietly, finish_cleanup, read_outcome, record_outcome
from sweep_contracts.storage import ObjectStore
from sweep_contracts.tasks import ShardTask, identify_task, parse_task
from sweep_worker.budget import TimeBudget
from sweep_worker.evaluate import run_points, run_points_isolated
from sweep_worker.point import redact
from sweep_worker.row import Clock, wall_clock
from sweep_worker.sink import PointRows
from sweep_worker.started import clear_started, mark_started

log = logging.getLogger("sweep.worker")

Secrets = Callable[[Sequence[str]], Mapping[str, str]]
Timer = Callable[[], float]
"""Seconds on a monotonic clock, for how long a point took (`time.perf_counter`)."""


def _no_secrets(names: Sequence[str]) -> Mapping[str, str]:
    if names:
        raise SecretUnavailableError(
            f"no secret store is configured, and the experiment needs {', '.join(names)}.",
            field="secrets",
            value=list(names),
            hint="give the worker a secret store (`WorkerDeps(secrets=...)`).",
        )
    return {}


@dataclass(frozen=True)
class WorkerDeps:
    """What the worker needs from its runtime; the handler builds it once per cold start."""

    store: ObjectStore
    registry: Registry
    secrets: Secrets = _no_secrets
    clock: Clock = wall_clock
    """The wall clock: outcomes' times and every row's `finished_at` (tests pass a fixed one)."""
    timer: Timer = time.perf_counter


def optional(experiment: Experiment[Any], config: Mapping[str, Any], name: str) -> bool:
    """Whether secret `name` may be absent: its experiment's config has a field `<name>_required`
    (an LLM experiment's `api_key_required`) and the task's config leaves it false. A keyless
    server then gets no auth header; every other experiment needs what it declares."""
    field = experiment.config_model.model_fields.get(f"{name}_required")
    return field is not None and not config.get(f"{name}_required", field.default)


def _read_secrets(task: ShardTask, experiment: Experiment[Any], read: Secrets) -> Mapping[str, str]:
    secrets: dict[str, str] = {}
    for name in experiment.secrets:
        try:
            secrets.update(read([name]))
        except SecretUnavailableError as exc:
            if exc.not_set and optional(experiment, task.config, name):
                continue
            message = f"a secret of experiment `{task.experiment}` is unavailable: {exc}"
            raise _ShardFailed(ErrorCode.SECRET_UNAVAILABLE, message) from exc
    return secrets


def previous_attempt_crashed(task: ShardTask, store: ObjectStore) -> bool:
    """Whether the shard's last recorded attempt died with its process: then this attempt isolates
    its points, or it would die at the same point again. When the store cannot say, isolate: it is
    only slower."""
    if task.attempt <= 1:
        return False
    try:
        data = store.get(layout.outcome_key(task.run_id, "failure", task.shard_id))
        previous = Outcome.from_parquet(data, task.run_id) if data is not None else None
    except Exception:
        log.warning("shard %s/%s: cannot read its previous outcome; isolating its points", task.run_id, task.shard_id)
        return True
    return previous is not None and previous.error_code is ErrorCode.WORKER_CRASHED


class _ShardFailed(Exception):  # noqa: N818 - internal control flow, never leaves this module
    """The shard ends in a `failure` outcome with this code and message."""

    def __init__(self, code: ErrorCode, message: str, rows: PointRows | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rows = rows


def _budget(task: ShardTask, remaining_ms: Callable[[], float] | None, timer: Timer) -> TimeBudget:
    settings = task.settings
    if remaining_ms is not None:
        return TimeBudget(remaining_ms, settings.time_budget_margin_ms, timer)
    return TimeBudget.fixed(settings.shard_time_budget_s, settings.time_budget_margin_ms, timer=timer)


def _run_shard(
    task: ShardTask, deps: WorkerDeps, remaining_ms: Callable[[], float] | None, execution: str, *, isolate: bool
) -> PointRows:
    """Evaluate and write the shard's points; raise `_ShardFailed` for every way it can fail."""
    try:
        experiment = deps.registry.get(task.experiment)
    except UnknownExperimentError as exc:
        raise _ShardFailed(ErrorCode.EXPERIMENT_UNAVAILABLE, str(exc)) from exc
    secrets = _read_secrets(task, experiment, deps.secrets)
    # an earlier execution of this attempt that left its started marker died (Lambda redelivers
    # with the same attempt); an earlier attempt that crashed says so in its failure outcome
    isolate = isolate or previous_attempt_crashed(task, deps.store)
    run = run_points_isolated if isolate else run_points
    try:
        result = run(task, experiment, _budget(task, remaining_ms, deps.timer), secrets, clock=deps.clock)
    except StoreError as exc:  # transient: error rows in a `success` would never be retried
        raise _ShardFailed(ErrorCode.STORE_UNAVAILABLE, str(exc)) from exc
    except SweepError as exc:
        raise _ShardFailed(ErrorCode.INVALID_TASK, str(exc)) from exc
    except Exception as exc:
        message = redact(f"{type(exc).__name__}: {exc}", secrets)
        # no traceback in the log: it would quote the exception's message, secrets and all
        log.error("shard %s/%s: unexpected error: %s", task.run_id, task.shard_id, message)
        raise _ShardFailed(ErrorCode.INTERNAL_ERROR, message) from exc
    # the outcome names this execution's tag: it vouches for these rows only, and the key carries
    # their counts so that status can add up a run from a listing (docs/storage.md)
    result.rows.execution = layout.execution_tag(execution, result.rows.ok, result.rows.failed)
    key = layout.points_key(task.run_id, task.shard_id, result.rows.execution)
    try:
        # created, never replaced (the role allows no other PUT here): the key is this execution's
        # own, so a key that is already there is our write that committed before an error
        deps.store.put_if_absent(key, result.rows.to_parquet())
    except Exception as exc:
        # the write may have committed before the error: the failure vouches for no rows, so
        # whatever landed is an orphan that readers ignore; remove it if we can
        delete_quietly(deps.store, key)
        message = f"writing the points failed ({len(result.rows)} points evaluated, not kept): {exc}"
        raise _ShardFailed(ErrorCode.STORE_WRITE_FAILED, message) from exc
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
    execution = layout.new_execution()
    marked = False
    tally = False  # per-series sums in the outcome: a search round's tasks ask for them
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
        tally = task.tally_series
        standing = read_outcome(deps.store, run_id, "success", shard_id)
        if standing is not None:
            log.info("shard %s/%s already succeeded; duplicate delivery ignored", run_id, shard_id)
            finish_cleanup(deps.store, standing)  # a stale failure or orphan left by an earlier touch
            clear_started(deps.store, run_id, shard_id, None)
            return _duplicate(run_id, shard_id)
        redelivered = mark_started(deps.store, task, execution, request_id=request_id, at=started.isoformat())
        marked = True
        try:
            rows = _run_shard(task, deps, remaining_ms, execution, isolate=redelivered)
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
                execution=rows.execution,
                series=rows.tally() if tally else None,
            )
            recorded = record_outcome(deps.store, outcome)
            # a success stands: nothing is left to isolate, so a dead execution's marker goes too
            clear_started(deps.store, run_id, shard_id, None if redelivered or not recorded else execution)
            if not recorded:
                log.info("shard %s/%s: another copy's success stands; this copy's rows discarded", run_id, shard_id)
                return _duplicate(run_id, shard_id)
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
        execution=failure.rows.execution if failure.rows is not None else None,
        series=failure.rows.tally() if tally and failure.rows is not None else None,
    )
    recorded = record_outcome(deps.store, outcome)
    if marked:
        # this execution ended with an outcome: its marker goes; another's (one that died) stays,
        # so the next attempt isolates too until the shard succeeds
        clear_started(deps.store, run_id, shard_id, execution if recorded else None)
    if not recorded:
        log.info("shard %s/%s already succeeded; late %s not recorded", run_id, shard_id, failure.code.value)
        return _duplicate(run_id, shard_id)
    log.warning("shard %s/%s failed: %s %s", run_id, shard_id, failure.code.value, failure.message)
    return summary(outcome)


def summary(outcome: Outcome) -> dict[str, Any]:
    """The handler's return value: the outcome without timestamps."""
    return outcome.model_dump(mode="json", exclude={"started_at", "finished_at"})
