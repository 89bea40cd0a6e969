"""Shard outcomes: exactly one per shard, `success` or `failure` with an error code.

The write protocol (`record_outcome`) keeps that true under at-least-once delivery:
- a success is created only if absent, so the first success of a shard stands and never changes;
- an outcome names the execution whose points file it vouches for, and nothing ever deletes the
  file a recorded outcome names: a losing copy deletes only its own file, a cleanup only files
  that no standing outcome names;
- if a success and a stale failure both remain (a delete that failed), readers take the success
  and the next touch of the shard (`finish_cleanup`) removes the failure.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field, ValidationError

from sweep_contracts import layout
from sweep_contracts._parquet import write_flat
from sweep_contracts._parquet_read import read_flat
from sweep_contracts.base import Frozen
from sweep_contracts.errors import ParquetFormatError
from sweep_contracts.layout import OutcomeStatus
from sweep_contracts.names import RUN_ID_PATTERN
from sweep_contracts.schema import OUTCOMES_TABLE, OUTCOMES_TALLIED
from sweep_contracts.storage import ObjectStore

MAX_ERROR_MESSAGE = 2000
log = logging.getLogger("sweep.outcomes")


class ErrorCode(StrEnum):
    """Why a shard failed."""

    TIME_BUDGET = "TIME_BUDGET"
    """The worker stopped before its time ran out and wrote what it had."""
    DISPATCH_FAILED = "DISPATCH_FAILED"
    """The shard could not be handed to a worker after retries."""
    WORKER_CRASHED = "WORKER_CRASHED"
    """The worker process died (out of memory, a runtime error) before writing an outcome."""
    INTERRUPTED = "INTERRUPTED"
    """A signal (Ctrl-C, SIGTERM, SIGHUP) stopped a local run before the shard finished."""
    EVENT_EXPIRED = "EVENT_EXPIRED"
    """Lambda queued the shard's invoke and dropped it (`EventAgeExceeded`) before a worker was free."""
    WORKER_TIMEOUT = "WORKER_TIMEOUT"
    """The runtime killed the worker at its timeout before it wrote an outcome."""
    STORE_WRITE_FAILED = "STORE_WRITE_FAILED"
    """The points could not be written to the store after retries."""
    INVALID_TASK = "INVALID_TASK"
    """The shard task was malformed; the worker refused it."""
    MISSING_CONFIG = "MISSING_CONFIG"
    """The shard task had no config; the worker refused it."""
    EXPERIMENT_UNAVAILABLE = "EXPERIMENT_UNAVAILABLE"
    """The worker has no experiment of that name installed."""
    SECRET_UNAVAILABLE = "SECRET_UNAVAILABLE"  # noqa: S105 - an error code, not a secret
    """A secret the experiment declares could not be read from the stage's secret store."""
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    """Something every point reads (an S3 task set) could not be read past its retries; `retry` reruns it."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """An unexpected error in sweep itself (not in the experiment)."""


def truncate(text: str, limit: int = MAX_ERROR_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SeriesTally(Frozen):
    """One series' points in a shard, summed: what a search's trigger reads of a round without
    reading its Parquet points (the orchestrator holds no pyarrow; docs/search.md)."""

    ok: int = Field(default=0, ge=0)
    """Points that returned metrics."""
    failed: int = Field(default=0, ge=0)
    """Points that raised."""
    sums: dict[str, float] = Field(default_factory=dict)
    """Per metric, the sum of its finite values over the ok points."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Per metric, how many ok points gave it a finite value."""


class Outcome(Frozen):
    """One row of the `outcomes` table, plus the run it belongs to (a partition key)."""

    run_id: str = Field(pattern=RUN_ID_PATTERN)
    shard_id: int = Field(ge=0)
    attempt: int = Field(default=1, ge=1)
    status: OutcomeStatus
    points_total: int = Field(ge=0)
    points_ok: int = Field(default=0, ge=0)
    points_failed: int = Field(default=0, ge=0)
    error_code: ErrorCode | None = None
    error_message: str | None = None
    started_at: AwareDatetime
    finished_at: AwareDatetime
    duration_ms: float = Field(ge=0)
    request_id: str | None = None
    execution: str | None = Field(default=None, pattern=layout.EXECUTION_PATTERN)
    series: dict[str, SeriesTally] | None = Field(default=None, exclude=True)
    """The points this outcome vouches for, summed per series (column `series_json`); None in
    outcomes written before it existed and in those that vouch for no rows."""

    @property
    def key(self) -> str:
        return layout.outcome_key(self.run_id, self.status, self.shard_id)

    @property
    def rows_vouched(self) -> int:
        """How many point rows this outcome says its points file holds."""
        return self.points_ok + self.points_failed

    @property
    def points_key(self) -> str | None:
        """The points object this outcome vouches for, or None when it vouches for no rows."""
        if self.execution is not None:
            return layout.points_key(self.run_id, self.shard_id, self.execution)
        return layout.points_key(self.run_id, self.shard_id) if self.rows_vouched else None

    @property
    def points_not_run(self) -> int:
        return self.points_total - self.points_ok - self.points_failed

    def to_parquet(self) -> bytes:
        row = self.model_dump(exclude={"run_id"})
        row["error_code"] = self.error_code.value if self.error_code else None
        row["error_message"] = truncate(self.error_message) if self.error_message else None
        if self.series is None:
            return write_flat(OUTCOMES_TABLE, [row])
        tallies = {name: tally.model_dump() for name, tally in self.series.items()}
        row["series_json"] = json.dumps(tallies, sort_keys=True, allow_nan=False)
        return write_flat(OUTCOMES_TALLIED, [row])

    @classmethod
    def from_parquet(cls, data: bytes, run_id: str) -> Outcome:
        """Read from the Parquet columns, so a file any plain Parquet writer made reads the same."""
        rows = read_flat(data)
        if len(rows) != 1:
            raise ParquetFormatError(f"an outcome file holds one row; this one holds {len(rows)}.")
        row = dict(rows[0])
        series = row.pop("series_json", None)  # absent from outcomes written before the column
        try:
            tallies = json.loads(series) if series is not None else None
            return cls.model_validate({**row, "series": tallies, "run_id": run_id})
        except (ValidationError, ValueError) as exc:
            raise ParquetFormatError(f"this Parquet file does not hold an outcome: {exc}") from exc

    @classmethod
    def failure(
        cls,
        *,
        run_id: str,
        shard_id: int,
        code: ErrorCode,
        message: str,
        points_total: int,
        started_at: datetime,
        finished_at: datetime,
        attempt: int = 1,
        points_ok: int = 0,
        points_failed: int = 0,
        request_id: str | None = None,
        execution: str | None = None,
        series: dict[str, SeriesTally] | None = None,
    ) -> Outcome:
        return cls(
            run_id=run_id,
            shard_id=shard_id,
            attempt=attempt,
            status="failure",
            points_total=points_total,
            points_ok=points_ok,
            points_failed=points_failed,
            error_code=code,
            error_message=truncate(message),
            started_at=started_at,
            finished_at=finished_at,
            duration_ms=max(0.0, (finished_at - started_at).total_seconds() * 1000),
            request_id=request_id,
            execution=execution,
            series=series,
        )


def read_outcome(store: ObjectStore, run_id: str, status: OutcomeStatus, shard_id: int) -> Outcome | None:
    data = store.get(layout.outcome_key(run_id, status, shard_id))
    return Outcome.from_parquet(data, run_id) if data is not None else None


def delete_quietly(store: ObjectStore, key: str | None) -> bool:
    """Best effort: a delete that fails leaves garbage that readers ignore and the next touch removes."""
    if key is None:
        return True
    try:
        store.delete(key)
    except Exception as exc:  # cleanup must never turn a recorded outcome into an error
        log.warning("could not delete %s (left for the next touch): %s", key, exc)
        return False
    return True


def finish_cleanup(store: ObjectStore, success: Outcome) -> bool:
    """With the shard's success standing: remove its stale failure and every points file of the
    shard the success does not name. True if nothing was left behind."""
    clean = delete_quietly(store, layout.outcome_key(success.run_id, "failure", success.shard_id))
    keep = success.points_key
    for key in list(store.list(layout.shard_points_prefix(success.run_id, success.shard_id))):
        parsed = layout.parse_points_key(key)
        if parsed is not None and parsed[1] == success.shard_id and key != keep:
            clean = delete_quietly(store, key) and clean
    return clean


def finish_run_cleanup(store: ObjectStore, run_id: str) -> int:
    """Finish, for every shard of a run that has both outcomes, what its success's writer could
    not: remove the stale failure (and unvouched points). Returns how many shards it touched."""
    statuses: dict[int, set[str]] = {}
    for key in store.list(layout.outcomes_prefix(run_id)):
        parsed = layout.parse_outcome_key(key)
        if parsed is not None:
            statuses.setdefault(parsed[2], set()).add(parsed[1])
    touched = 0
    for shard_id, found in sorted(statuses.items()):
        if len(found) == 2 and (success := read_outcome(store, run_id, "success", shard_id)) is not None:
            finish_cleanup(store, success)
            touched += 1
    return touched


def record_outcome(store: ObjectStore, outcome: Outcome) -> bool:
    """Record a shard's one outcome (see the module's protocol). A success stands once written; a
    failure never contradicts a success (a late duplicate, say). True if `outcome` is the one that
    stands; when it is not, its own points file is removed, since no outcome will ever name it."""
    if outcome.status == "success":
        return _record_success(store, outcome)
    success_key = layout.outcome_key(outcome.run_id, "success", outcome.shard_id)
    if store.exists(success_key):
        delete_quietly(store, outcome.points_key if outcome.execution else None)
        return False
    previous = read_outcome(store, outcome.run_id, "failure", outcome.shard_id)
    store.put(outcome.key, outcome.to_parquet())
    if store.exists(success_key):  # a success landed meanwhile: it wins, and ours is stale
        delete_quietly(store, outcome.key)
        delete_quietly(store, outcome.points_key if outcome.execution else None)
        return False
    if previous is not None and previous.execution and previous.execution != outcome.execution:
        delete_quietly(store, previous.points_key)  # superseded: no standing outcome names it
    return True


def _record_success(store: ObjectStore, outcome: Outcome) -> bool:
    key = layout.outcome_key(outcome.run_id, "success", outcome.shard_id)
    if not store.put_if_absent(key, outcome.to_parquet()):
        standing = read_outcome(store, outcome.run_id, "success", outcome.shard_id)
        # an S3 PUT that committed but answered an error is retried and then finds our own object
        mine = standing is not None and standing.execution == outcome.execution and outcome.execution is not None
        if not mine:
            delete_quietly(store, outcome.points_key if outcome.execution else None)
            if standing is not None:
                finish_cleanup(store, standing)
            return False
    finish_cleanup(store, outcome)
    return True
