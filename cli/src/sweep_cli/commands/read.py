"""Commands that read runs: `status`, `results`, `runs`, `report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from sweep_cli import render
from sweep_cli.app import (
    EXIT_OK,
    Format,
    MetricOption,
    WatchOption,
    app,
    exit_code,
    handles_errors,
)
from sweep_cli.backend import with_backend
from sweep_cli.runs import Backend

RunIdArgument = Annotated[str, typer.Argument(help="The run.")]


@app.command()
@handles_errors
@with_backend()
def status(
    run_id: RunIdArgument,
    backend: Backend,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    watch: WatchOption = False,
    check: Annotated[
        bool, typer.Option("--check", help="Check the run's invariants in its store; exit 1 on a violation.")
    ] = False,
) -> None:
    """Show a run's progress: shards by outcome, points by status, failures and what is missing."""
    if check:
        from sweep_cli.check import check_command, store_of

        raise typer.Exit(check_command(run_id, store_of(backend), as_json))
    from sweep_cli.local.backend import LocalBackend

    if isinstance(backend, LocalBackend) and backend.has_search(run_id):
        from sweep_cli.search.view import print_search_status

        raise typer.Exit(print_search_status(backend, run_id, as_json=as_json))
    if isinstance(backend, LocalBackend):
        result = backend.follow(run_id, quiet=False) if watch else backend.status(run_id)
    else:  # a stage answers a search's id with the search (`kind: search`)
        from sweep_cli.search.stage import is_search_answer
        from sweep_cli.stage.backend import StageBackend, as_status

        assert isinstance(backend, StageBackend)
        answer = backend.client.status(run_id)
        if is_search_answer(answer):
            from sweep_cli.search.stage import print_status

            raise typer.Exit(print_status(backend, answer, as_json=as_json, follow=watch))
        result = backend.follow(run_id, quiet=False) if watch else as_status(answer)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        render.out.print(render.status_text(result))
    # a running run is no failure yet; a stalled one will not finish by itself (docs/reference/codes.md: exit 1)
    raise typer.Exit(exit_code(result) if result.done or result.state == "stalled" else EXIT_OK)


@app.command()
@handles_errors
@with_backend()
def results(
    run_id: RunIdArgument,
    backend: Backend,
    sql: Annotated[str | None, typer.Option("--sql", help="SQL over the views `points` and `outcomes`.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    metric: MetricOption = None,
    local: Annotated[
        bool, typer.Option("--local", help="With --stage: download the run's Parquet into --out and use DuckDB.")
    ] = False,
    head: Annotated[
        int | None,
        typer.Option(
            "--head", min=1, help="The first N points: their series, status, axes and the metrics that fit 120 columns."
        ),
    ] = None,
) -> None:
    """Query a run's results with SQL (DuckDB here, Athena on a stage); without --sql, the summary.
    For a search: its history (objective per trial, best so far), best setting and importances
    (on a stage, downloaded first with its rounds)."""
    if local or _is_stage_search(backend, run_id):
        backend = backend.local_copy(run_id)
    if sql and head:
        from sweep_cli.errors import UsageError

        raise UsageError("--head and --sql cannot be used together.", field="--head", hint="add LIMIT N to the SQL.")
    if head:
        from sweep_cli.results.head import head_query

        sql = head_query(backend, run_id, head)
    from sweep_cli.local.backend import LocalBackend

    if not sql and isinstance(backend, LocalBackend) and backend.has_search(run_id):
        from sweep_cli.search.view import print_search

        print_search(backend, run_id, fmt="json" if fmt == Format.json else "table")
        return
    if sql:
        render.print_result(backend.query(run_id, sql), fmt.value)
        return
    summary = backend.summary(run_id, metric)
    if summary is None:
        render.err.print("no metrics were recorded for this run")
        return
    render.print_summary(summary, fmt)


@app.command()
@handles_errors
@with_backend()
def runs(
    backend: Backend,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the newest N runs.")] = 20,
) -> None:
    """List the runs in a results directory (or on a stage), newest first."""
    found = backend.runs(limit)
    if not found:
        render.err.print(backend.no_runs_hint())
        return
    render.out.print(render.runs_table(found))


def _is_stage_search(backend: Backend, run_id: str) -> bool:
    from sweep_cli.local.backend import LocalBackend

    if isinstance(backend, LocalBackend):  # the stage's module needs boto3, which a local install may lack
        return False
    from sweep_cli.stage.backend import StageBackend

    return isinstance(backend, StageBackend) and backend.has_search(run_id)


@app.command()
@handles_errors
@with_backend()
def report(
    run_ids: Annotated[list[str], typer.Argument(help="The run; name two or more to overlay them.", metavar="RUN_ID")],
    backend: Backend,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="HTML file (default: <out>/report-<run_id>.html, or report-A-vs-B.html)."),
    ] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metrics to plot (default: all).")] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the report in a browser, where one is available.")
    ] = True,
) -> None:
    """Write a self-contained HTML report: each metric against each swept parameter, interactions
    and heatmaps of pairs of axes, and the spread of repeats, per series. With several runs: each
    metric against each shared axis, one line per run. On a stage: each run (or search, with its
    rounds) is downloaded into --out first."""
    from sweep_cli.local.backend import LocalBackend

    out = backend.out
    if not isinstance(backend, LocalBackend):
        for run_id in run_ids:
            backend.local_copy(run_id)
    if len(run_ids) == 1 and LocalBackend(out).has_search(run_ids[0]):
        from sweep_cli.search.page import write_search_report

        with LocalBackend(out) as local:
            path = write_search_report(local, run_ids[0], output or out / f"report-{run_ids[0]}.html")
    elif len(run_ids) == 1:
        from sweep_cli.report.page import write_report

        path = write_report(out, run_ids[0], output or out / f"report-{run_ids[0]}.html", metric or [])
    else:
        from sweep_cli.report.overlay import default_name, write_overlay

        path = write_overlay(out, run_ids, output or out / default_name(run_ids), metric or [])
    render.out.print(render.shown(f"report written to {path}"))
    if open_browser and _has_display():
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


def _has_display() -> bool:
    """A browser can show the report: a desktop session (X, Wayland), macOS or Windows; not over SSH or CI."""
    import os
    import sys

    if os.environ.get("CI") or (os.environ.get("SSH_CONNECTION") and not os.environ.get("DISPLAY")):
        return False
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@app.command()
@handles_errors
@with_backend()
def logs(
    run_id: RunIdArgument,
    backend: Backend,
    point: Annotated[int | None, typer.Option("--point", "-p", min=0, help="One point, ok or not.")] = None,
    shard: Annotated[int | None, typer.Option("--shard", min=0, help="The error rows of one shard.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N points.")] = 10,
) -> None:
    """Show why points failed: each error row's type, message and traceback, and what it printed;
    and each shard that failed as a whole (a time budget, a crash), with the point it stopped at."""
    where = [f"point_index = {point}"] if point is not None else ["status = 'error'"]
    if shard is not None:
        where.append(f"shard_id = {shard}")
    columns = "point_index, shard_id, status, error_type, error_message, traceback, output, log, config_json"
    condition = " AND ".join(where)  # integers from typed options only
    sql = f"SELECT {columns} FROM points WHERE {condition} ORDER BY point_index LIMIT {limit}"  # noqa: S608
    result = backend.query(run_id, sql)
    shards = []
    if point is None:  # a shard that failed as a whole (time budget, crash) has no error row to show
        from sweep_cli.results.failed_shards import failed_shards_texts

        shards = failed_shards_texts(backend, run_id, shard, limit)
    if not result.rows and not shards:
        what = f"point {point}" if point is not None else "error rows or failed shards"
        where_text = f"no {what} in run {run_id}" + (f" shard {shard}" if shard is not None else "") + "."
        render.err.print(render.shown(where_text))
        return
    for text in shards:
        render.out.print(text)
    for index, shard_id, state, error_type, message, trace, output, log, config in result.rows:
        head = Text(f"point {index}", style="bold")
        render.out.print(head.append_text(render.shown(f" (shard {shard_id}) {state}: {config}")))
        if error_type:
            render.out.print(render.shown(f"{error_type}: {message}", "red", lines=True))
        if trace:
            render.out.print(render.shown(trace.rstrip(), lines=True))
        if output:
            render.out.print(render.shown(f"output: {output}", lines=True))
        if log:
            render.out.print(render.shown(f"log:\n{log.rstrip()}", lines=True))
