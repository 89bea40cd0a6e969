"""The `sweep` application: its options, exit codes, and how errors reach the user."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sweep_cli import render
from sweep_contracts.errors import SweepError
from sweep_orchestrator.status import RunStatus

if TYPE_CHECKING:
    from sweep_cli.remote import StageClient


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


EXIT_OK, EXIT_FAILED_SHARDS, EXIT_BAD_INPUT, EXIT_POINT_ERRORS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="sweep",
    help="Run parameter sweeps on this machine's cores (and on AWS Lambda), query the results with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

OutOption = Annotated[
    Path, typer.Option("--out", "-o", envvar="SWEEP_OUT", help="Results directory.", show_default=True)
]
DEFAULT_OUT = Path("sweep-results")
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", min=1, help="Worker processes [default: all cores].")
]
SettingsOption = Annotated[
    Path | None,
    typer.Option("--settings", help="YAML file of stage settings (max_points, shard_size, …) over the defaults."),
]
MetricOption = Annotated[
    str | None, typer.Option("--metric", "-m", help="Metric to summarise [default: the experiment's objective].")
]

StageOption = Annotated[
    str | None, typer.Option("--stage", "-s", envvar="SWEEP_STAGE", help="A deployed stage (dev, prod): work there.")
]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="The stage's API URL (its `api_url` output), instead of --stage.")
]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS region of the stage [default: from the URL].")]
WatchOption = Annotated[bool, typer.Option("--watch", help="Follow the run with a progress bar until it is done.")]

F = TypeVar("F", bound=Callable[..., Any])


def stage_client(stage: str | None, endpoint: str | None, region: str | None) -> StageClient | None:
    """A client for the stage the options name, or None to work on the local results directory."""
    if stage is None and endpoint is None:
        return None
    from sweep_cli.remote import StageClient
    from sweep_cli.stage import resolve_stage

    return StageClient(resolve_stage(stage, endpoint, region))


def handles_errors(fn: F) -> F:
    """Turn a `SweepError` into one clear paragraph on stderr and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SweepError as exc:
            render.print_error(exc)
            raise typer.Exit(EXIT_BAD_INPUT if exc.http_status < 500 else EXIT_FAILED_SHARDS) from None

    return wrapper  # type: ignore[return-value]


def exit_code(status: RunStatus) -> int:
    if status.state != "succeeded":
        return EXIT_FAILED_SHARDS
    return EXIT_POINT_ERRORS if status.points_error else EXIT_OK


SweepFileArgument = Annotated[str, typer.Argument(help="Sweep file (YAML or JSON; `-` reads stdin).")]
