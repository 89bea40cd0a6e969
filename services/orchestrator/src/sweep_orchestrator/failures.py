"""Failure outcomes the orchestrator side records for a shard whose worker wrote none: it could
not be dispatched (`DISPATCH_FAILED`), its local worker process died (`WORKER_CRASHED`), or Lambda
gave up on it (`WORKER_CRASHED`/`WORKER_TIMEOUT`, from the on-failure destination).

Every such path describes the failure as one `ShardFailure` and records it with `record_failures`,
so the outcome row is the same whichever path found it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sweep_contracts.outcomes import ErrorCode, Outcome, record_outcome
from sweep_contracts.planning import ShardPlan
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.dispatch import DispatchReport


@dataclass(frozen=True)
class ShardFailure:
    """Shard `shard_id` (of `points_total` points) failed at `attempt` with `code`, before its
    worker wrote an outcome. `request_id` names the invocation that failed, when one is known."""

    shard_id: int
    attempt: int
    points_total: int
    code: ErrorCode
    message: str
    request_id: str | None = None

    def outcome(self, run_id: str, now: datetime) -> Outcome:
        """The `failure` outcome row: no point ran, so it starts and ends at `now`."""
        return Outcome.failure(
            run_id=run_id,
            shard_id=self.shard_id,
            attempt=self.attempt,
            code=self.code,
            message=self.message,
            points_total=self.points_total,
            started_at=now,
            finished_at=now,
            request_id=self.request_id,
        )


def record_failures(store: ObjectStore, run_id: str, failures: Iterable[ShardFailure], now: datetime) -> int:
    """Write the `failure` outcome of each shard, unless it has already succeeded (a success is
    never contradicted: see `record_outcome`). Returns how many were written."""
    return sum(record_outcome(store, failure.outcome(run_id, now)) for failure in failures)


def dispatch_failures(
    plan: ShardPlan, report: DispatchReport, attempts: Mapping[int, int] | None = None
) -> list[ShardFailure]:
    """A `DISPATCH_FAILED` failure for every shard `report` could not hand over, at its attempt
    from `attempts` (1 when not named: a first dispatch)."""
    return [
        ShardFailure(
            shard_id=shard_id,
            attempt=(attempts or {}).get(shard_id, 1),
            points_total=plan.shard(shard_id).size,
            code=ErrorCode.DISPATCH_FAILED,
            message=message,
        )
        for shard_id, message in sorted(report.failed.items())
    ]
