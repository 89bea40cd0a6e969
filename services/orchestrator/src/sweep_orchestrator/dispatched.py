"""The dispatch record: when a run's shards were last handed to workers.

It is written after a dispatch (submit or retry) has handed over every shard it meant to. A run
whose manifest exists without it never finished dispatching — the orchestrator died midway, or
the manifest write answered an error although it committed — and resubmitting the same request
finishes the dispatch. Its time also places two deadlines for a shard that still has no outcome:
past `late_at` it did not start at once and may be waiting in Lambda's queue (status counts it
`queued`); past `overdue_at` Lambda must have run it or dropped it, so it is lost: status calls the
run `stalled`, and `sweep retry` re-dispatches only such shards (or every one, with `force`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, Field

from sweep_contracts import layout
from sweep_contracts.base import Frozen
from sweep_contracts.manifest import RunManifest
from sweep_contracts.prices import ASYNC_RETRY_DELAYS_S
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.cost.queueing import Queue

OVERDUE_MARGIN_S = 300
"""Beyond what Lambda may take: writing results, clock skew between the worker and the reader."""


class DispatchRecord(Frozen):
    """A finished dispatch: when, and how many shards it handed over."""

    dispatched_at: AwareDatetime
    shards: int = Field(ge=0)


def read_record(store: ObjectStore, run_id: str) -> DispatchRecord | None:
    data = store.get(layout.dispatch_key(run_id))
    return DispatchRecord.model_validate_json(data) if data is not None else None


def write_record(store: ObjectStore, run_id: str, now: datetime, shards: int) -> None:
    record = DispatchRecord(dispatched_at=now, shards=shards)
    store.put(layout.dispatch_key(run_id), record.model_dump_json().encode())


def late_at(manifest: RunManifest, record: DispatchRecord | None) -> datetime:
    """When a shard that started at dispatch would have ended: the last dispatch (else the run's
    creation) + the stage's shard time budget + a margin. A shard without outcome after this was
    not started at once: it may be waiting in Lambda's queue (`overdue_at` says until when)."""
    budget = manifest.effective_settings().shard_time_budget_s
    return _since(manifest, record) + timedelta(seconds=budget + OVERDUE_MARGIN_S)


def overdue_at(manifest: RunManifest, record: DispatchRecord | None) -> datetime:
    """When a shard of the run with no outcome is lost: by then Lambda must have run every attempt
    of it or dropped it to the on-failure destination (`EventAgeExceeded`, recorded EVENT_EXPIRED).

    The queue model's last start of the shards the dispatch handed over, each lasting the worker's
    timeout (an upper bound), capped by the worker's maximum event age (an event still queued then
    is dropped); then every attempt Lambda makes of it (the worker's timeout each) with its retry
    delays, and a margin. Before this, `sweep retry` leaves such a shard alone: a second copy would
    be billed twice and push the queue's tail toward its event age."""
    settings = manifest.effective_settings()
    shards = record.shards if record is not None and record.shards else manifest.plan.shard_count
    timeout = float(settings.worker_timeout_s)
    last_start = min(Queue(shards, timeout, settings.worker_concurrency).last_start_s, settings.max_event_age_s)
    attempts = 1 + len(ASYNC_RETRY_DELAYS_S)
    lost_after = last_start + attempts * timeout + sum(ASYNC_RETRY_DELAYS_S) + OVERDUE_MARGIN_S
    return _since(manifest, record) + timedelta(
        seconds=max(lost_after, settings.shard_time_budget_s + OVERDUE_MARGIN_S)
    )


def _since(manifest: RunManifest, record: DispatchRecord | None) -> datetime:
    return record.dispatched_at if record is not None else manifest.created_at
