"""Will every shard of a run start before Lambda drops its queued invoke?

An `Event` invoke is accepted even when the worker's concurrency is full; Lambda queues it and
drops it after the worker's maximum event age (`EventAgeExceeded`, recorded `EVENT_EXPIRED`).
With `C` workers running shards of `T` seconds, `S` shards need about `S × T ÷ C` seconds to get
through the queue; past `max_event_age_s` the last ones expire unstarted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweep_contracts.errors import LimitExceededError
from sweep_contracts.settings import SystemSettings


@dataclass(frozen=True)
class QueueEstimate:
    """How long a run's shards wait in Lambda's queue, against the worker's maximum event age."""

    shards: int
    shard_s: float
    concurrency: int
    event_age_s: int
    measured: bool
    """True when the shard time comes from the request's `expected_point_s`, not the time budget."""

    @property
    def drain_s(self) -> float:
        return self.shards * self.shard_s / self.concurrency

    @property
    def fits(self) -> bool:
        return self.drain_s <= self.event_age_s

    @property
    def startable(self) -> int:
        """Shards that start before the event age at this shard time."""
        return min(
            self.shards, int(self.event_age_s * self.concurrency // self.shard_s) if self.shard_s else self.shards
        )

    def message(self) -> str:
        source = (
            "expected_point_s × shard_size" if self.measured else "`shard_time_budget_s`, no `expected_point_s` given"
        )
        return (
            f"{self.shards:,} shards × {self.shard_s:g} s per shard ({source}) ÷ {self.concurrency:,} concurrent "
            f"workers (`worker_concurrency`) = {self.drain_s:,.0f} s in Lambda's queue, over the worker's maximum "
            f"event age of {self.event_age_s:,} s (`max_event_age_s`): about {self.shards - self.startable:,} shards "
            "would expire unstarted (EVENT_EXPIRED)."
        )


def queue_estimate(
    shards: int, shard_size: int, settings: SystemSettings, expected_point_s: float | None
) -> QueueEstimate:
    budget = float(settings.shard_time_budget_s)
    shard_s = budget if expected_point_s is None else min(budget, expected_point_s * shard_size)
    return QueueEstimate(
        shards=shards,
        shard_s=shard_s,
        concurrency=settings.worker_concurrency,
        event_age_s=settings.max_event_age_s,
        measured=expected_point_s is not None,
    )


HINT = (
    "give the run's measured time per point as `expected_point_s` (e.g. from `sweep try`), use fewer or "
    "shorter shards, raise the worker's concurrency (`worker_concurrency` with the stage's reserved "
    "concurrency) or its event age (`maxEventAgeS` and `max_event_age_s`, at most 21,600 s); "
    "`refuse_expiring_runs: 0` submits anyway with a warning, and `sweep retry` reruns expired shards."
)


def check_queue(estimate: QueueEstimate, settings: SystemSettings) -> str | None:
    """None when every shard starts in time; otherwise the warning, or `LimitExceededError` when
    the stage refuses such runs."""
    if estimate.fits:
        return None
    if settings.refuse_expiring_runs:
        raise LimitExceededError(
            estimate.message(),
            field="shards",
            value=round(estimate.drain_s),
            limit=estimate.event_age_s,
            hint=HINT,
        )
    return estimate.message()
