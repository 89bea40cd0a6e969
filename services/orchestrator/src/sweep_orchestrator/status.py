"""GET /runs/{run_id}: a run's progress, computed from its manifest and its outcome objects."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime

from sweep_contracts import layout
from sweep_contracts.base import Frozen
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import Outcome
from sweep_contracts.storage import ObjectInfo, ObjectStore
from sweep_orchestrator.dispatched import DispatchRecord, overdue_at, read_record
from sweep_orchestrator.runs import load_manifest

State = Literal["running", "stalled", "succeeded", "failed", "partial"]
LISTED = 50
"""Most shard ids a status lists by name (missing, failed); the counts are always complete."""


class ShardFailure(Frozen):
    shard_id: int
    attempt: int
    error_code: str | None
    error_message: str | None


class RunStatus(Frozen):
    """Progress of a run: shards by outcome, points by status, and what is missing."""

    run_id: str
    experiment: str
    created_at: AwareDatetime
    state: State
    shards_total: int
    shards_success: int
    shards_failure: int
    shards_pending: int
    points_total: int
    points_ok: int
    points_error: int
    points_not_run: int
    error_codes: dict[str, int]
    missing_shards: list[int]
    failed_shards: list[ShardFailure]
    first_started_at: AwareDatetime | None = None
    last_finished_at: AwareDatetime | None = None
    overdue_at: AwareDatetime | None = None
    """When a shard still without outcome is overdue (the last dispatch + shard time budget + margin)."""
    stalled_for_s: float | None = None
    """How long the run's pending shards have been overdue; set only when the state is `stalled`."""

    @property
    def done(self) -> bool:
        return self.shards_pending == 0

    @property
    def points_done(self) -> int:
        return self.points_ok + self.points_error


class OutcomeCache:
    """Outcomes already read, by store, key and version tag: polling a large run in a warm
    orchestrator rereads only the outcomes that changed since the last poll."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._items: OrderedDict[tuple[str, str], tuple[str, Outcome]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: ObjectStore, info: ObjectInfo) -> Outcome | None:
        with self._lock:
            hit = self._items.get((store.uri, info.key))
            return hit[1] if hit and hit[0] == info.tag else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, store: ObjectStore, info: ObjectInfo, outcome: Outcome) -> None:
        with self._lock:
            self._items[(store.uri, info.key)] = (info.tag, outcome)
            self._items.move_to_end((store.uri, info.key))
            while len(self._items) > self.limit:
                self._items.popitem(last=False)


OUTCOMES = OutcomeCache()


def read_outcomes(
    store: ObjectStore, run_id: str, threads: int = 16, cache: OutcomeCache | None = OUTCOMES
) -> dict[int, Outcome]:
    """The outcome of every shard that has one. A success wins over a stale failure."""
    winners: dict[int, tuple[layout.OutcomeStatus, ObjectInfo]] = {}
    for info in store.list_info(layout.outcomes_prefix(run_id)):
        parsed = layout.parse_outcome_key(info.key)
        if parsed is None:
            continue
        _, status, shard_id = parsed
        if status == "success" or shard_id not in winners:
            winners[shard_id] = (status, info)

    def load(item: tuple[int, ObjectInfo]) -> tuple[int, Outcome | None]:
        shard_id, info = item
        if cache is not None and (hit := cache.get(store, info)) is not None:
            return shard_id, hit
        data = store.get(info.key)
        if data is None:  # replaced between the listing and the read: a retry is writing it
            return shard_id, None
        outcome = Outcome.from_parquet(data, run_id)
        if cache is not None:
            cache.put(store, info, outcome)
        return shard_id, outcome

    items = sorted((shard_id, info) for shard_id, (_, info) in winners.items())
    if len(items) > 8 and threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            loaded: Iterable[tuple[int, Outcome | None]] = list(pool.map(load, items))
    else:
        loaded = [load(item) for item in items]
    return {shard_id: outcome for shard_id, outcome in loaded if outcome is not None}


def summarize(
    manifest: RunManifest,
    outcomes: dict[int, Outcome],
    now: datetime | None = None,
    record: DispatchRecord | None = None,
) -> RunStatus:
    """The run's status at `now`: pending shards past their deadline make it `stalled`."""
    plan = manifest.plan
    success = [o for o in outcomes.values() if o.status == "success"]
    failure = [o for o in outcomes.values() if o.status == "failure"]
    pending = [k for k in range(plan.shard_count) if k not in outcomes]
    points_ok = sum(o.points_ok for o in outcomes.values())
    points_error = sum(o.points_failed for o in outcomes.values())
    state: State
    deadline = overdue_at(manifest, record)
    stalled_for = (now - deadline).total_seconds() if now is not None and pending and now > deadline else None
    if pending:
        state = "stalled" if stalled_for is not None else "running"
    elif not failure:
        state = "succeeded"
    elif not success:
        state = "failed"
    else:
        state = "partial"
    started: list[datetime] = [o.started_at for o in outcomes.values()]
    finished: list[datetime] = [o.finished_at for o in outcomes.values()]
    return RunStatus(
        run_id=manifest.run_id,
        experiment=manifest.request.experiment,
        created_at=manifest.created_at,
        state=state,
        shards_total=plan.shard_count,
        shards_success=len(success),
        shards_failure=len(failure),
        shards_pending=len(pending),
        points_total=plan.points_total,
        points_ok=points_ok,
        points_error=points_error,
        points_not_run=plan.points_total - points_ok - points_error,
        error_codes=dict(Counter(o.error_code.value for o in failure if o.error_code)),
        missing_shards=pending[:LISTED],
        failed_shards=[
            ShardFailure(shard_id=o.shard_id, attempt=o.attempt, error_code=o.error_code, error_message=o.error_message)
            for o in sorted(failure, key=lambda o: o.shard_id)[:LISTED]
        ],
        first_started_at=min(started, default=None),
        last_finished_at=max(finished, default=None),
        overdue_at=deadline if pending else None,
        stalled_for_s=stalled_for,
    )


def run_status(
    store: ObjectStore, run_id: str, manifest: RunManifest | None = None, now: datetime | None = None
) -> RunStatus:
    """The run's progress; pass its manifest if you have it, to spare reading it again."""
    manifest = manifest or load_manifest(store, run_id)
    outcomes = read_outcomes(store, run_id)
    record = read_record(store, run_id) if len(outcomes) < manifest.plan.shard_count else None
    return summarize(manifest, outcomes, now or datetime.now(UTC), record)
