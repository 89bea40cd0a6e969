"""GET /runs/{run_id}: a run's progress, from its manifest and two listings (docs/storage.md).

Shard states come from the names of the outcome keys, point counts from the names of the points
keys, and the times from when the outcome objects were written (their listed modification time).
Status reads outcome objects only as far as its answer shows them — the first `LISTED` failed
shards — and those of shards whose counts the listing cannot tell (`listing.py`). A run of N
shards costs about 2·N/1,000 LIST requests, listed in parallel, and its manifest (which a warm
orchestrator has already, `runs.ManifestCache`), however many of them finished.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime

from sweep_contracts.base import Frozen
from sweep_contracts.errors import ParquetFormatError, StoreError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import Outcome
from sweep_contracts.storage import ObjectInfo, ObjectStore
from sweep_orchestrator.dispatched import DispatchRecord, late_at, overdue_at, read_record
from sweep_orchestrator.listing import list_shards, standing_outcomes
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.tally import Tally

State = Literal["running", "stalled", "succeeded", "completed_with_errors", "failed", "partial"]
"""`succeeded`: every point is ok. `completed_with_errors`: every shard ran, some points are error
rows (`points_error` says how many). `failed`: not one point is ok (every shard failed, or every
row is an error, as when the model server is down). `partial`: some shards failed, some points are ok."""
LISTED = 50
"""Most shard ids a status lists by name (missing, failed), and so the most failure outcomes it
reads; the shard and point counts are always complete."""


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
    """The error codes of the failed shards listed in `failed_shards` (the first `LISTED`)."""
    missing_shards: list[int]
    failed_shards: list[ShardFailure]
    failures_not_read: int = 0
    """Failed shards beyond `failed_shards`: status does not read their outcomes, so `error_codes`
    leaves them out (the `outcomes` table has every one)."""
    first_recorded_at: AwareDatetime | None = None
    """When the first standing outcome was written (its object's modification time, to the second
    on S3): a shard's outcome is the last thing it writes."""
    last_recorded_at: AwareDatetime | None = None
    """When the last standing outcome was written; with `created_at`, how long the run has taken."""
    overdue_at: AwareDatetime | None = None
    """When a shard still without outcome is lost: Lambda must have run it or dropped it by then
    (the queue model's last start, the worker's attempts and retry delays; `dispatched.overdue_at`)."""
    shards_queued: int = 0
    """Pending shards past the time a shard started at dispatch would have ended, and not yet lost:
    they may be waiting in Lambda's queue, which drains a throttled queue at most every 300 s."""
    stalled_for_s: float | None = None
    """How long the run's pending shards have been overdue; set only when the state is `stalled`."""

    @property
    def done(self) -> bool:
        return self.shards_pending == 0

    @property
    def points_done(self) -> int:
        return self.points_ok + self.points_error

    @property
    def label(self) -> str:
        """The state in words, as every view shows it: `completed_with_errors` with its count."""
        if self.state == "completed_with_errors":
            return f"completed with errors: {self.points_error:,} of {self.points_total:,} points failed"
        return self.state


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

    def read(self, run_id: str, infos: Sequence[ObjectInfo]) -> list[Outcome | None]:
        """The outcomes at `infos`, in order (None for one gone since it was listed), read in parallel."""
        loaded: Iterable[Outcome | None]
        if len(infos) > 8 and self.threads > 1:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                loaded = list(pool.map(lambda info: self._load(run_id, info), infos))
        else:
            loaded = [self._load(run_id, info) for info in infos]
        return list(loaded)

    def outcomes(self, run_id: str) -> dict[int, Outcome]:
        """The outcome of every shard that has one (one GET each). A success wins over a stale failure."""
        items = sorted((shard_id, info) for shard_id, (_, info) in standing_outcomes(self.store, run_id).items())
        loaded = self.read(run_id, [info for _, info in items])
        return {shard_id: outcome for (shard_id, _), outcome in zip(items, loaded, strict=True) if outcome is not None}

    def status(self, run_id: str, manifest: RunManifest | None = None, now: datetime | None = None) -> RunStatus:
        """The run's progress at `now`; pass its manifest if you have it, to spare reading it again."""
        manifest = manifest or load_manifest(self.store, run_id)
        listing = list_shards(self.store, run_id, manifest.plan.shard_count)
        wanted = list(dict.fromkeys([*listing.failed()[:LISTED], *listing.unknown()]))
        infos = [listing.standing[shard_id][1] for shard_id in wanted]
        read = {
            shard_id: outcome
            for shard_id, outcome in zip(wanted, self.read(run_id, infos), strict=True)
            if outcome is not None
        }
        tally = Tally.of(manifest, listing, read)
        record = read_record(self.store, run_id) if tally.done < manifest.plan.shard_count else None
        return summarize(manifest, tally, read, now or datetime.now(UTC), record)


def read_outcomes(store: ObjectStore, run_id: str) -> dict[int, Outcome]:
    """The outcome of every shard that has one, read afresh (one GET each)."""
    return OutcomeReader(store, limit=0).outcomes(run_id)


def _when(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def summarize(
    manifest: RunManifest,
    tally: Tally,
    read: Mapping[int, Outcome],
    now: datetime | None = None,
    record: DispatchRecord | None = None,
) -> RunStatus:
    """The run's status at `now` from its tally and the outcomes that were read (which name the
    failures shown); pending shards past their deadline make it `stalled`."""
    plan = manifest.plan
    shown = [o for k in tally.failed[:LISTED] if (o := read.get(k)) is not None and o.status == "failure"]
    pending = plan.shard_count - tally.done
    state: State
    deadline = overdue_at(manifest, record)
    stalled_for = (now - deadline).total_seconds() if now is not None and pending and now > deadline else None
    queued = pending if now is not None and stalled_for is None and now > late_at(manifest, record) else 0
    if pending:
        state = "stalled" if stalled_for is not None else "running"
    elif not tally.success or not tally.points_ok:  # no shard succeeded, or no point is ok
        state = "failed"
    elif tally.failed:
        state = "partial"
    else:
        state = "completed_with_errors" if tally.points_error else "succeeded"
    return RunStatus(
        run_id=manifest.run_id,
        experiment=manifest.request.experiment,
        created_at=manifest.created_at,
        state=state,
        shards_total=plan.shard_count,
        shards_success=tally.success,
        shards_failure=len(tally.failed),
        shards_pending=pending,
        points_total=plan.points_total,
        points_ok=tally.points_ok,
        points_error=tally.points_error,
        points_not_run=plan.points_total - tally.points_ok - tally.points_error,
        error_codes=dict(Counter(o.error_code.value for o in shown if o.error_code)),
        missing_shards=tally.pending(plan.shard_count, LISTED),
        failed_shards=[
            ShardFailure(shard_id=o.shard_id, attempt=o.attempt, error_code=o.error_code, error_message=o.error_message)
            for o in shown
        ],
        failures_not_read=len(tally.failed) - len(shown),
        first_recorded_at=_when(tally.first_recorded),
        last_recorded_at=_when(tally.last_recorded),
        overdue_at=deadline if pending else None,
        stalled_for_s=stalled_for,
        shards_queued=queued,
    )


def run_status(
    store: ObjectStore, run_id: str, manifest: RunManifest | None = None, now: datetime | None = None
) -> RunStatus:
    """The run's progress, read afresh; pass its manifest if you have it, to spare reading it again."""
    return OutcomeReader(store, limit=0).status(run_id, manifest, now)
