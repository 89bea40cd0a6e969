"""What every backend answers with, and the protocol it answers through: the leaf both the local
and the stage backend build on (`backend` chooses between them; nothing here imports either)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the models behind these types wait for a command that runs (`sweep --help` stays cheap)
    from sweep_cli.report.llm import OptionRows
    from sweep_cli.results.query import Goal, QueryResult, Settings
    from sweep_contracts.manifest import RunManifest
    from sweep_orchestrator.retry import RetryResult
    from sweep_orchestrator.status import RunStatus
    from sweep_orchestrator.submit import SubmitResult


@dataclass(frozen=True)
class Summary:
    """Per series: points, errors, the metric's mean/min/max and the best point (see `summary_sql`)."""

    result: QueryResult
    metric: str
    goal: Goal
    options: tuple[OptionRows, ...] = ()
    """For an LLM run: per option value, score, latency p50/p90, tokens/s, errors (`llm_report`)."""
    settings: Settings | None = None
    """What "best" chose among and averaged over; None: the best point (a run without its manifest)."""


@dataclass(frozen=True)
class RunRow:
    """One run in a listing; `status` where the backend has it at no extra cost."""

    run_id: str
    experiment: str
    created_at: datetime
    points: int
    shards: int
    description: str | None = None
    status: RunStatus | None = None


class Backend(Protocol):
    """A place that holds runs and runs their shards. Used as a context manager: leaving it
    releases what it started (the local process pool)."""

    shards_run_here: bool
    """Whether shards run in this process, so a command that hands some over must wait for them."""
    summary_on_finish: bool
    """Whether a finished run's summary is cheap enough to show unasked (DuckDB: yes; Athena: a paid query)."""
    out: Path
    """The results directory (`--out`): where a stage's runs are downloaded for DuckDB."""

    def __enter__(self) -> Backend: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def submit(self, payload: Any) -> SubmitResult:
        """Create the run (or find it, same content) and hand its shards to the workers."""

    def describe(self, result: SubmitResult) -> str:
        """Where a submitted run went and how to follow it, for stderr."""

    def retry(self, run_id: str, settings: Mapping[str, Any] | None = None, force: bool = False) -> RetryResult:
        """Hand the failed and missing shards to the workers again, each with its next attempt
        (and with `settings` over the run's, where the backend allows it); `force` also those that
        may still wait in Lambda's queue."""

    def follow(self, run_id: str, *, quiet: bool) -> RunStatus:
        """Wait, with a progress bar unless `quiet`, until no shard handed over is pending."""

    def status(self, run_id: str) -> RunStatus: ...

    def runs(self, limit: int) -> list[RunRow]:
        """The newest runs, newest first."""

    def query(self, run_id: str, sql: str) -> QueryResult:
        """SQL over views `points` and `outcomes` of one run."""

    def manifest(self, run_id: str) -> RunManifest | None:
        """The run's manifest (None where the backend cannot read it); an unknown run is an error."""

    def summary(self, run_id: str, metric: str | None) -> Summary | None:
        """The run's summary by `metric` (default: the objective), or None when it recorded no metrics."""

    def local_copy(self, run_id: str) -> Backend:
        """A local backend holding the run (a stage downloads it into the results directory)."""

    def next_steps(self, run_id: str, status: RunStatus) -> list[str]:
        """Commands that continue from a finished run, with the options that reach this backend."""

    def no_runs_hint(self) -> str: ...
