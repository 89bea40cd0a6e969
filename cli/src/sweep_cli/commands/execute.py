"""Commands that start work: `run` (here), `submit` (on a stage), `retry` (on either)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sweep_cli import render
from sweep_cli.app import (
    DEFAULT_OUT,
    EXIT_BAD_INPUT,
    Format,
    MetricOption,
    OutOption,
    QuietOption,
    RunIdOption,
    SetOption,
    SettingsOption,
    SweepFileArgument,
    WatchOption,
    WorkersOption,
    app,
    exit_code,
    handles_errors,
)
from sweep_cli.backend import with_backend
from sweep_cli.commands.confirm import YesOption, confirm_removal
from sweep_cli.errors import UsageError
from sweep_cli.runs import Backend

# The engine, the query layer and the models are imported by the commands that use them, so that
# `sweep --help` (and every command's --help) starts without pydantic (tests/functional/test_cold_start.py).
if TYPE_CHECKING:
    from sweep_orchestrator.retry import RetryResult
    from sweep_orchestrator.status import RunStatus


def finish(backend: Backend, run_id: str, status: RunStatus, metric: str | None, quiet: bool) -> int:
    """Show how a followed run ended (unless `quiet`) and answer its exit code."""
    code = exit_code(status)
    if not quiet:
        if backend.summary_on_finish:
            try:
                summary = backend.summary(run_id, metric)
            except UsageError as exc:  # a metric the run did not record: said, and exit 2 once shown
                render.print_error(exc)
                summary, code = None, code or EXIT_BAD_INPUT
            else:
                if summary is None:
                    render.out.print("no metrics were recorded")
            if summary is not None:
                render.print_summary(summary, Format.table)
            if status.points_error:
                from sweep_cli.results.query import ERROR_GROUPS_SQL

                groups = backend.query(run_id, ERROR_GROUPS_SQL)
                render.out.print(render.error_groups_text(groups, run_id))
        render.out.print(render.status_text(status))
        for line in backend.next_steps(run_id, status):
            render.out.print(line)
    return code


def start(backend: Backend, payload: Any, *, follow: bool, metric: str | None = None, quiet: bool = False) -> None:
    result = backend.submit(payload)
    if quiet:  # the one line a script needs: the run's id, generated or not
        print(result.run_id)
    if result.existing or not quiet:
        render.err.print(backend.describe(result))
    if follow:
        # an existing run is shown as it is, unless another process runs it (then it is followed)
        elsewhere = getattr(backend, "following", None) is not None
        status = backend.follow(result.run_id, quiet=quiet or (result.existing and not elsewhere))
        raise typer.Exit(finish(backend, result.run_id, status, metric, quiet))


def retry_text(result: RetryResult) -> str:
    waiting = (
        f"; {result.running} shards without outcome may still be running or waiting in Lambda's queue: left "
        "alone (`--force` sends them again)"
        if result.running
        else ""
    )
    if not result.failed + result.missing:
        return f"run {result.run_id} has no failed or missing shards{waiting}."
    handed = result.dispatched + result.delegated
    return (
        f"retrying {result.failed} failed and {result.missing} missing shards of {result.run_id} "
        f"({handed} handed over, {result.dispatch_failed} not){waiting}"
    )


@app.command()
@handles_errors
def run(
    file: SweepFileArgument,
    out: OutOption = DEFAULT_OUT,
    workers: WorkersOption = None,
    settings: SettingsOption = None,
    metric: MetricOption = None,
    quiet: QuietOption = False,
    overrides: SetOption = None,
    run_id: RunIdOption = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing run of this run_id: its results are removed first."),
    ] = False,
) -> None:
    """Run a sweep on this machine: every core, a progress bar, Parquet results and a summary."""
    from sweep_cli.local._pool import start_fork_server

    start_fork_server()  # first: it loads the worker while this process reads and plans the sweep
    from sweep_cli.files import load_settings
    from sweep_cli.local.backend import LocalBackend
    from sweep_cli.overrides import sweep_request

    effective = load_settings(settings)
    payload = sweep_request(file, overrides, run_id, effective.max_request_bytes)
    with LocalBackend(out, workers, effective) as backend:
        if force and isinstance(payload.get("run_id"), str) and backend.has_search(payload["run_id"]):
            removed = backend.remove_search(payload["run_id"])
            render.err.print(
                render.shown(f"--force: removed search {payload['run_id']} ({removed} objects) to run it again")
            )
        elif force and isinstance(payload.get("run_id"), str) and backend.has_run(payload["run_id"]):
            removed = backend.remove(payload["run_id"])
            render.err.print(
                render.shown(f"--force: removed run {payload['run_id']} ({removed} objects) to run it again")
            )
        from sweep_contracts.search import is_search

        if is_search(payload):
            from sweep_cli.search.run import run_search
            from sweep_cli.search.view import print_search

            search = run_search(backend, payload, quiet=quiet)
            raise typer.Exit(print_search(backend, search.run_id, quiet=quiet))
        start(backend, payload, follow=True, metric=metric, quiet=quiet)


@app.command()
@handles_errors
def rm(
    run_ids: Annotated[list[str], typer.Argument(help="The runs to remove.", metavar="RUN_ID...")],
    out: OutOption = DEFAULT_OUT,
    yes: Annotated[bool, YesOption] = False,
) -> None:
    """Remove runs from a results directory: manifest, points and outcomes. Says what it removes
    and asks first (--yes: without asking)."""
    from sweep_cli.local.backend import LocalBackend

    with LocalBackend(out) as backend:
        unique = list(dict.fromkeys(run_ids))
        listed = [  # an unknown run: exit 2 here, before anything is removed
            f"search {run_id} and its rounds" if backend.has_search(run_id) else backend.run_line(run_id)
            for run_id in unique
        ]
        confirm_removal(f"sweep rm removes from {out}:", listed, yes)
        for run_id in unique:
            if backend.has_search(run_id):
                removed = backend.remove_search(run_id)
                render.out.print(render.shown(f"removed search {run_id} and its rounds ({removed} objects) from {out}"))
                continue
            removed = backend.remove(run_id)
            render.out.print(render.shown(f"removed run {run_id} ({removed} objects) from {out}"))


@app.command()
@handles_errors
@with_backend(local=False, stage_only="`sweep submit` sends a sweep to a deployed stage.")
def submit(
    file: SweepFileArgument,
    backend: Backend,
    watch: WatchOption = False,
    overrides: SetOption = None,
    run_id: RunIdOption = None,
) -> None:
    """Submit a sweep to a deployed stage (AWS Lambda); it runs there, not on this machine."""
    from sweep_cli.overrides import sweep_request
    from sweep_contracts.search import is_search

    payload = sweep_request(file, overrides, run_id)
    if is_search(payload):
        from sweep_cli.search.stage import submit_search
        from sweep_cli.stage.backend import StageBackend

        assert isinstance(backend, StageBackend)  # `submit` is stage_only
        search_id = submit_search(backend, payload)
        if watch:
            from sweep_cli.search.stage import print_status

            raise typer.Exit(print_status(backend, backend.client.status(search_id), as_json=False, follow=True))
        return
    start(backend, payload, follow=watch)


@app.command()
@handles_errors
@with_backend(workers=True)
def retry(
    run_id: Annotated[str, typer.Argument(help="The run to complete.")],
    backend: Backend,
    metric: MetricOption = None,
    quiet: QuietOption = False,
    watch: WatchOption = False,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SETTING=VALUE",
            help="Run the retried shards with this setting instead of the run's, e.g. `shard_time_budget_s=600`.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="On a stage, also send again the shards that may still wait in Lambda's queue (billed twice if "
            "they do start).",
        ),
    ] = False,
) -> None:
    """Rerun only the failed and missing shards of a run (each with its next attempt number)."""
    from sweep_cli.overrides import parse_setting

    settings = dict(parse_setting(item) for item in overrides or [])
    from sweep_cli.local.backend import LocalBackend

    if isinstance(backend, LocalBackend) and backend.has_search(run_id):
        from sweep_cli.search.run import resume_search
        from sweep_cli.search.view import print_search

        resume_search(backend, run_id, quiet=quiet)
        raise typer.Exit(print_search(backend, run_id, quiet=quiet))
    if not isinstance(backend, LocalBackend):  # a stage answers a search's id with the search's retry
        from sweep_cli.search.stage import is_search_answer, print_retry
        from sweep_cli.stage.backend import StageBackend
        from sweep_orchestrator.retry import RetryResult

        assert isinstance(backend, StageBackend)
        answer = backend.retry_answer(run_id, settings, force)
        if is_search_answer(answer):
            code = print_retry(answer)
            if watch:
                from sweep_cli.search.stage import print_status

                code = print_status(backend, backend.client.status(run_id), as_json=False, follow=True) or code
            raise typer.Exit(code)
        result = RetryResult.model_validate(answer)
    else:
        result = backend.retry(run_id, settings, force)
    render.err.print(retry_text(result))
    if watch or backend.shards_run_here:
        status = backend.follow(run_id, quiet=quiet)
        raise typer.Exit(finish(backend, run_id, status, metric, quiet))
