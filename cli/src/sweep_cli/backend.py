"""Where a command's runs live and run: a local results directory or a deployed stage.

Each command that can work on either names a `backend: Backend` parameter and is decorated with
`with_backend`, which declares the options that choose it (`--out`, `--stage`, `--endpoint`,
`--region`) once for every command, checks them together and builds the backend before the
command's body runs. The body is then written once, against the protocol below."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import typer

from sweep_cli.app import DEFAULT_OUT, OutOption, WorkersOption
from sweep_cli.errors import UsageError
from sweep_contracts import environment

if TYPE_CHECKING:  # the models behind these types wait for a command that runs (`sweep --help` stays cheap)
    from sweep_cli.llm_report import OptionRows
    from sweep_cli.query import Goal, QueryResult, Settings
    from sweep_contracts.manifest import RunManifest
    from sweep_orchestrator.retry import RetryResult
    from sweep_orchestrator.status import RunStatus
    from sweep_orchestrator.submit import SubmitResult

StageOption = Annotated[
    str | None,
    typer.Option("--stage", "-s", envvar=environment.STAGE, help="A deployed stage (dev, prod): work there."),
]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="The stage's API URL (its `api_url` output), instead of --stage.")
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region", help="AWS region of the stage (default: SWEEP_REGION, else the stage's own, else AWS_REGION)."
    ),
]


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


@dataclass(frozen=True)
class BackendOptions:
    """The options that choose a backend, as the user gave them."""

    out: Path = DEFAULT_OUT
    stage: str | None = None
    endpoint: str | None = None
    region: str | None = None
    workers: int | None = None

    @property
    def on_stage(self) -> bool:
        return self.stage is not None or self.endpoint is not None

    def check(self) -> None:
        if self.region is not None and not self.on_stage:
            raise UsageError(
                f"--region {self.region} names the region of a deployed stage, but no stage was named.",
                field="--region",
                value=self.region,
                hint="add --stage NAME (or --endpoint URL) to work on a stage, or drop --region to work on "
                f"the results directory {self.out}.",
            )

    def backend(self) -> Backend:
        """The backend these options name; stage options are checked and resolved here, once."""
        self.check()
        if not self.on_stage:
            from sweep_cli.local import LocalBackend

            return LocalBackend(self.out, self.workers)
        from sweep_cli.remote import StageClient
        from sweep_cli.stage import resolve_stage
        from sweep_cli.stage_ops import StageBackend

        return StageBackend(StageClient(resolve_stage(self.stage, self.endpoint, self.region)), self.out)


F = TypeVar("F", bound=Callable[..., Any])
_STAGE_PARAMETERS = {"stage": StageOption, "endpoint": EndpointOption, "region": RegionOption}


def with_backend(*, local: bool = True, workers: bool = False, stage_only: str = "") -> Callable[[F], F]:
    """Replace the command's `backend` parameter by the options that choose it, and pass the
    backend in (entered as a context manager for the command's duration).

    `local=False`: the command works on a stage only: it has no --out, and without a stage it
    fails with `stage_only` as the message. `workers=True`: it runs shards here, so --workers."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != "backend"]
        added: dict[str, Any] = {}
        if local:
            added["out"] = (OutOption, DEFAULT_OUT)
        if workers:
            added["workers"] = (WorkersOption, None)
        added |= {name: (annotation, None) for name, annotation in _STAGE_PARAMETERS.items()}
        options = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
            for name, (annotation, default) in added.items()
        ]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = BackendOptions(**{name: kwargs.pop(name) for name in added})
            if not local and not chosen.on_stage:
                raise UsageError(
                    stage_only,
                    field="--stage",
                    hint="name one with --stage dev (or --endpoint URL); to run here, use `sweep run`.",
                )
            with chosen.backend() as backend:
                return fn(*args, backend=backend, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *options])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *options]}
        return wrapper  # type: ignore[return-value]

    return decorate
