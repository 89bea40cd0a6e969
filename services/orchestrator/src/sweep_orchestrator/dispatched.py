"""The dispatch record: when a run's shards were last handed to workers.

It is written after a dispatch (submit or retry) has handed over every shard it meant to. A run
whose manifest exists without it never finished dispatching — the orchestrator died midway, or
the manifest write answered an error although it committed — and resubmitting the same request
finishes the dispatch. Its time also places the deadline after which a shard that still has no
outcome is overdue: `sweep retry` re-dispatches only overdue shards, and status calls such a run
`stalled` rather than `running`."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, Field

from sweep_contracts import layout
from sweep_contracts.base import Frozen
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import ObjectStore

OVERDUE_MARGIN_S = 300
"""Beyond a shard's time budget: Lambda's queueing, its retry backoff and writing results."""


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


def overdue_at(manifest: RunManifest, record: DispatchRecord | None) -> datetime:
    """When a shard of the run with no outcome stops being `running` and becomes overdue: the last
    dispatch (else the run's creation) + the stage's shard time budget + a margin."""
    since = record.dispatched_at if record is not None else manifest.created_at
    budget = manifest.effective_settings().shard_time_budget_s
    return since + timedelta(seconds=budget + OVERDUE_MARGIN_S)
