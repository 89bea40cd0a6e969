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
from sweep_contracts.errors import ParquetFormatError, StoreError
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


class OutcomeReader:
    """Reads a run's outcomes from one store. It remembers each outcome by key and version tag,
    so a warm orchestrator polling a large run rereads only the outcomes that changed. The memory
    belongs to this reader and so to its one store: two stores never share what was read."""

    def __init__(self, store: ObjectStore, *, limit: int = 100_000, threads: int = 16) -> None:
        self.store = store
        self.limit = limit
        self.threads = threads
        self._items: OrderedDict[str, tuple[str, Outcome]] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, info: ObjectInfo) -> Outcome | None:
        with self._lock:
            hit = self._items.get(info.key)
            return hit[1] if hit and hit[0] == info.tag else None

    def _remember(self, info: ObjectInfo, outcome: Outcome) -> None:
        with self._lock:
            self._items[info.key] = (info.tag, outcome)
            self._items.move_to_end(info.key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def _load(self, run_id: str, info: ObjectInfo) -> Outcome | None:
        if (hit := self._cached(info)) is not None:
            return hit
        data = self.store.get(info.key)
        if data is None:  # replaced between the listing and the read: a retry is writing it
            return None
        try:
            outcome = Outcome.from_parquet(data, run_id)
        except ParquetFormatError as exc:
            raise StoreError(
                f"the outcome `{info.key}` in {self.store.uri} cannot be read: {exc.message}",
                field="key",
                value=info.key,
                hint=exc.hint or "rewrite the shard's outcome: `sweep retry` runs the shard again.",
            ) from exc
        self._remember(info, outcome)
        return outcome

    def outcomes(self, run_id: str) -> dict[int, Outcome]:
        """The outcome of every shard that has one. A success wins over a stale failure."""
        winners: dict[int, tuple[layout.OutcomeStatus, ObjectInfo]] = {}
        for info in self.store.list_info(layout.outcomes_prefix(run_id)):
            parsed = layout.parse_outcome_key(info.key)
            if parsed is None:
                continue
            _, status, shard_id = parsed
            if status == "success" or shard_id not in winners:
                winners[shard_id] = (status, info)
        items = sorted((shard_id, info) for shard_id, (_, info) in winners.items())

        def load(item: tuple[int, ObjectInfo]) -> tuple[int, Outcome | None]:
            return item[0], self._load(run_id, item[1])

        loaded: Iterable[tuple[int, Outcome | None]]
        if len(items) > 8 and self.threads > 1:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                loaded = list(pool.map(load, items))
        else:
            loaded = [load(item) for item in items]
        return {shard_id: outcome for shard_id, outcome in loaded if outcome is not None}

    def status(self, run_id: str, manifest: RunManifest | None = None, now: datetime | None = None) -> RunStatus:
        """The run's progress at `now`; pass its manifest if you have it, to spare reading it again."""
        manifest = manifest or load_manifest(self.store, run_id)
        outcomes = self.outcomes(run_id)
        record = read_record(self.store, run_id) if len(outcomes) < manifest.plan.shard_count else None
        return summarize(manifest, outcomes, now or datetime.now(UTC), record)


def read_outcomes(store: ObjectStore, run_id: str) -> dict[int, Outcome]:
    """The outcome of every shard that has one, read afresh."""
    return OutcomeReader(store, limit=0).outcomes(run_id)


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
    """The run's progress, read afresh; pass its manifest if you have it, to spare reading it again."""
    return OutcomeReader(store, limit=0).status(run_id, manifest, now)
