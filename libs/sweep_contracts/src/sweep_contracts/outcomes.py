"""Shard outcomes: exactly one per shard, `success` or `failure` with an error code."""

from __future__ import annotations

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
from sweep_contracts.schema import OUTCOMES_TABLE
from sweep_contracts.storage import ObjectStore

MAX_ERROR_MESSAGE = 2000


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
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """An unexpected error in sweep itself (not in the experiment)."""


def truncate(text: str, limit: int = MAX_ERROR_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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

    @property
    def key(self) -> str:
        return layout.outcome_key(self.run_id, self.status, self.shard_id)

    @property
    def points_not_run(self) -> int:
        return self.points_total - self.points_ok - self.points_failed

    def to_parquet(self) -> bytes:
        row = self.model_dump(exclude={"run_id"})
        row["error_code"] = self.error_code.value if self.error_code else None
        row["error_message"] = truncate(self.error_message) if self.error_message else None
        return write_flat(OUTCOMES_TABLE, [row])

    @classmethod
    def from_parquet(cls, data: bytes, run_id: str) -> Outcome:
        """Read from the Parquet columns, so a file any plain Parquet writer made reads the same."""
        rows = read_flat(data)
        if len(rows) != 1:
            raise ParquetFormatError(f"an outcome file holds one row; this one holds {len(rows)}.")
        try:
            return cls.model_validate({**rows[0], "run_id": run_id})
        except ValidationError as exc:
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
        )


def record_outcome(store: ObjectStore, outcome: Outcome) -> bool:
    """Record a shard's one outcome. A success replaces a stale failure; a failure never
    contradicts a success already recorded (a late duplicate delivery, say). True if written."""
    success_key = layout.outcome_key(outcome.run_id, "success", outcome.shard_id)
    if outcome.status == "failure":
        if store.exists(success_key):
            return False
        store.put(outcome.key, outcome.to_parquet())
        return True
    store.put(success_key, outcome.to_parquet())
    store.delete(layout.outcome_key(outcome.run_id, "failure", outcome.shard_id))
    return True
