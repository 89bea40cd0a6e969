"""GET /runs/{run_id}: a run's progress, from its manifest and two listings (docs/storage.md).

Shard states come from the names of the outcome keys and point counts from the names of the
points keys. Status reads outcome objects only as far as its answer shows them — the first
`LISTED` failed shards, the first and the last outcome recorded (for the times) — and those of
shards whose counts the listing cannot tell (`listing.py`). A run of N shards costs about
2·N/1,000 LIST requests and a few GETs, however many of them finished.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime

from sweep_contracts.base import Frozen
from sweep_contracts.errors import ParquetFormatError, StoreError
from sweep_contracts.layout import OutcomeStatus
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import Outcome
from sweep_contracts.storage import ObjectInfo, ObjectStore
from sweep_orchestrator.dispatched import DispatchRecord, overdue_at, read_record
from sweep_orchestrator.listing import ListedShard, list_shards, standing_outcomes
from sweep_orchestrator.runs import load_manifest

State = Literal["running", "stalled", "succeeded", "failed", "partial"]
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
    first_started_at: AwareDatetime | None = None
    """The earliest start among the outcomes status read, which include the first one recorded."""
    last_finished_at: AwareDatetime | None = None
    """When the last outcome recorded finished."""
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


@dataclass(frozen=True)
class Tally:
    """What status needs of one shard's standing outcome: its status and its point counts."""

    status: OutcomeStatus
    points_ok: int
    points_error: int

    @classmethod
    def of(cls, outcome: Outcome) -> Tally:
        return cls(outcome.status, outcome.points_ok, outcome.points_failed)


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
        listed = list_shards(self.store, run_id)
        wanted = _to_read(listed)
        read = {
            shard_id: outcome
            for shard_id, outcome in zip(wanted, self.read(run_id, [s.outcome for s in wanted.values()]), strict=True)
            if outcome is not None
        }
        tallies: dict[int, Tally] = {}
        for shard_id, shard in listed.items():
            if (outcome := read.get(shard_id)) is not None:
                tallies[shard_id] = Tally.of(outcome)
            elif shard.counts is not None:
                tallies[shard_id] = Tally(shard.status, *shard.counts)
            # else: gone between the listing and the read (a retry rewrote it): pending for this poll
        record = read_record(self.store, run_id) if len(tallies) < manifest.plan.shard_count else None
        return summarize(manifest, tallies, list(read.values()), now or datetime.now(UTC), record)


def _to_read(listed: Mapping[int, ListedShard]) -> dict[int, ListedShard]:
    """The shards whose outcome status reads: the failures it shows, the first and the last
    recorded (their times), and those whose counts the listing cannot tell."""
    shards = list(listed.values())
    failed = [s for s in shards if s.status == "failure"][:LISTED]
    by_time = sorted(shards, key=lambda s: (s.outcome.modified, s.outcome.key))
    unknown = [s for s in shards if s.counts is None]
    return {s.shard_id: s for s in [*failed, *by_time[:1], *by_time[-1:], *unknown]}


def read_outcomes(store: ObjectStore, run_id: str) -> dict[int, Outcome]:
    """The outcome of every shard that has one, read afresh (one GET each)."""
    return OutcomeReader(store, limit=0).outcomes(run_id)


def summarize(
    manifest: RunManifest,
    tallies: Mapping[int, Tally],
    read: Sequence[Outcome] = (),
    now: datetime | None = None,
    record: DispatchRecord | None = None,
) -> RunStatus:
    """The run's status at `now` from each shard's tally and the outcomes that were read (which
    name the failures shown and the times); pending shards past their deadline make it `stalled`."""
    plan = manifest.plan
    success = sum(1 for t in tallies.values() if t.status == "success")
    failed_ids = sorted(k for k, t in tallies.items() if t.status == "failure")
    by_shard = {o.shard_id: o for o in read}
    shown = [o for k in failed_ids[:LISTED] if (o := by_shard.get(k)) is not None and o.status == "failure"]
    pending = [k for k in range(plan.shard_count) if k not in tallies]
    points_ok = sum(t.points_ok for t in tallies.values())
    points_error = sum(t.points_error for t in tallies.values())
    state: State
    deadline = overdue_at(manifest, record)
    stalled_for = (now - deadline).total_seconds() if now is not None and pending and now > deadline else None
    if pending:
        state = "stalled" if stalled_for is not None else "running"
    elif not failed_ids:
        state = "succeeded"
    elif not success:
        state = "failed"
    else:
        state = "partial"
    return RunStatus(
        run_id=manifest.run_id,
        experiment=manifest.request.experiment,
        created_at=manifest.created_at,
        state=state,
        shards_total=plan.shard_count,
        shards_success=success,
        shards_failure=len(failed_ids),
        shards_pending=len(pending),
        points_total=plan.points_total,
        points_ok=points_ok,
        points_error=points_error,
        points_not_run=plan.points_total - points_ok - points_error,
        error_codes=dict(Counter(o.error_code.value for o in shown if o.error_code)),
        missing_shards=pending[:LISTED],
        failed_shards=[
            ShardFailure(shard_id=o.shard_id, attempt=o.attempt, error_code=o.error_code, error_message=o.error_message)
            for o in shown
        ],
        failures_not_read=len(failed_ids) - len(shown),
        first_started_at=min((o.started_at for o in read), default=None),
        last_finished_at=max((o.finished_at for o in read), default=None),
        overdue_at=deadline if pending else None,
        stalled_for_s=stalled_for,
    )


def run_status(
    store: ObjectStore, run_id: str, manifest: RunManifest | None = None, now: datetime | None = None
) -> RunStatus:
    """The run's progress, read afresh; pass its manifest if you have it, to spare reading it again."""
    return OutcomeReader(store, limit=0).status(run_id, manifest, now)
