"""The `sweep` application: its shared options, exit codes, and how errors reach the user."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sweep_cli import render
from sweep_cli.help import SweepGroup
from sweep_contracts import environment
from sweep_contracts.errors import SweepError

if TYPE_CHECKING:
    from sweep_orchestrator.status import RunStatus


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# 1: shards failed or did not finish, no point is ok, or a service the command needed failed; 2: bad
# input only; 3: the run completed with errors (every shard ran, some points are error rows)
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_POINT_ERRORS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="sweep",
    cls=SweepGroup,
    help="Run parameter sweeps on this machine's cores (and on AWS Lambda), query the results with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from sweep_contracts.version import code_version

        version = code_version()
        build = f" ({version['build']})" if "build" in version else ""
        print(f"sweep {version['sweep']}{build}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print sweep's version and exit."),
    ] = False,
) -> None:
    """Run parameter sweeps on this machine's cores (and on AWS Lambda), query the results with SQL."""


OutOption = Annotated[
    Path, typer.Option("--out", "-o", envvar=environment.OUT, help="Results directory.", show_default=True)
]
DEFAULT_OUT = Path("sweep-results")
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", min=1, help="Worker processes (default: all cores).")
]
SettingsOption = Annotated[
    Path | None,
    typer.Option("--settings", help="YAML file of stage settings (max_points, shard_size, …) over the defaults."),
]
MetricOption = Annotated[
    str | None, typer.Option("--metric", "-m", help="Metric to summarise (default: the experiment's objective).")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
WatchOption = Annotated[bool, typer.Option("--watch", help="Follow the run with a progress bar until it is done.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Override the file (repeatable), typed as YAML: `config.temperature=0.3`, `grid.size=[11,21]`, "
        "`repeats=5`; dotted names reach nested config keys and axes.",
    ),
]
RunIdOption = Annotated[str | None, typer.Option("--run-id", help="Name the run (instead of the file's `run_id`).")]
SweepFileArgument = Annotated[str, typer.Argument(help="Sweep file (YAML or JSON; `-` reads stdin).")]

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(fn: F) -> F:
    """Turn a `SweepError` into one clear paragraph on stderr and an exit code, never a traceback:
    2 when the caller can fix the input (HTTP 4xx), 1 when something the command needed failed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SweepError as exc:
            render.print_error(exc)
            raise typer.Exit(EXIT_BAD_INPUT if 400 <= exc.http_status < 500 else EXIT_FAILED) from None

    return wrapper  # type: ignore[return-value]


def exit_code(status: RunStatus) -> int:
    """0 `succeeded`, 3 `completed_with_errors` (every shard ran, some points are error rows), else 1."""
    if status.state == "succeeded":
        return EXIT_OK
    return EXIT_POINT_ERRORS if status.state == "completed_with_errors" else EXIT_FAILED
