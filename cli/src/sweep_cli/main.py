"""The `sweep` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from sweep_cli import render
from sweep_cli.app import (
    DEFAULT_OUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EndpointOption,
    Format,
    MetricOption,
    OutOption,
    RegionOption,
    SettingsOption,
    StageOption,
    SweepFileArgument,
    WatchOption,
    WorkersOption,
    app,
    exit_code,
    handles_errors,
    stage_client,
)
from sweep_cli.engine import PoolDispatcher, ShardDone, default_workers, local_runtime
from sweep_cli.errors import UsageError
from sweep_cli.files import load_sweep, load_yaml
from sweep_cli.params import app as params_app
from sweep_cli.query import ResultsDB, summary_sql
from sweep_cli.query import objective as run_objective
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.runs import list_runs
from sweep_orchestrator.status import run_status
from sweep_orchestrator.submit import load_manifest, prepare, request_size, submit_run

if TYPE_CHECKING:
    from sweep_cli.remote import StageClient

app.add_typer(params_app, name="params")


def load_settings(path: Path | None) -> SystemSettings:
    if path is None:
        return SystemSettings.resolve({}, source="default")
    raw = load_yaml(str(path)) or {}
    if not isinstance(raw, dict):
        raise UsageError(
            f"{path} holds {type(raw).__name__}, not a mapping of settings.",
            field="--settings",
            hint=f"write `name: value` lines; settings: {', '.join(SystemSettings.names())}.",
        )
    return SystemSettings.resolve(raw, source="file", strict=True)


def _progress(dispatcher: PoolDispatcher, manifest: RunManifest, total: int, quiet: bool) -> None:
    from sweep_cli.progress import progress_bar

    with progress_bar(manifest.run_id, total, quiet) as bar:

        def on_done(done: ShardDone) -> None:
            bar.advance(done.points, done.points_failed, done.failed)

        dispatcher.wait(on_done)


@contextmanager
def pool_session(dispatcher: PoolDispatcher) -> Iterator[None]:
    """Shut the pool down however the block ends; Ctrl-C keeps the finished shards."""
    try:
        yield
    except KeyboardInterrupt:
        dispatcher.shutdown(cancel=True)
        render.err.print("\ninterrupted; finished shards are kept. Resume with `sweep retry RUN_ID`.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        dispatcher.shutdown()


def watch_and_exit(client: StageClient, run_id: str, quiet: bool = False) -> NoReturn:
    from sweep_cli import stage_ops

    status = stage_ops.watch(client, run_id, quiet=quiet)
    render.out.print(render.status_text(status))
    raise typer.Exit(exit_code(status))


def _finish(out: Path, manifest: RunManifest, metric: str | None, quiet: bool) -> int:
    status = run_status(LocalStore(out), manifest.run_id, manifest)
    if not quiet:
        _print_summary(out, manifest, metric)
        render.out.print(render.status_text(status))
        if status.state != "succeeded":
            render.out.print(f"  rerun failed and missing shards with: sweep retry {manifest.run_id} --out {out}")
        render.out.print(
            f"\nresults in {out}/points/run_id={manifest.run_id}/\n"
            f'  sweep results {manifest.run_id} --out {out} --sql "SELECT * FROM points LIMIT 5"\n'
            f"  sweep report {manifest.run_id} --out {out}"
        )
    return exit_code(status)


def _print_summary(out: Path, manifest: RunManifest, metric: str | None) -> None:
    db = ResultsDB(out, manifest.run_id)
    try:
        objective = run_objective(manifest.request.experiment, metric, db.metric_names)
        if objective is None:
            render.out.print("no metrics were recorded")
            return
        name, goal = objective
        result = db.query(summary_sql(name, goal, manifest.plan.repeats))
        render.out.print(render.summary_table(result, name, goal))
    finally:
        db.close()


@app.command()
@handles_errors
def run(
    file: SweepFileArgument,
    out: OutOption = DEFAULT_OUT,
    workers: WorkersOption = None,
    settings: SettingsOption = None,
    metric: MetricOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Run a sweep on this machine: every core, a progress bar, Parquet results and a summary."""
    payload = load_sweep(file)
    runtime, dispatcher = local_runtime(out, workers or default_workers(), load_settings(settings))
    with pool_session(dispatcher):
        result, manifest = submit_run(payload, runtime)
        if result.existing:
            render.err.print(f"run {result.run_id} already exists with this content; showing it.")
        elif not quiet:
            render.err.print(
                f"run {result.run_id}: {result.points:,} points in {result.shards:,} shards of {result.shard_size:,} "
                f"on {dispatcher.workers} workers → {out}"
            )
        _progress(dispatcher, manifest, manifest.plan.points_total, quiet or result.existing)
    raise typer.Exit(_finish(out, manifest, metric, quiet))


@app.command()
@handles_errors
def submit(
    file: SweepFileArgument,
    stage: StageOption = None,
    endpoint: EndpointOption = None,
    region: RegionOption = None,
    watch: WatchOption = False,
) -> None:
    """Submit a sweep to a deployed stage (AWS Lambda); it runs there, not on this machine."""
    from sweep_cli import stage_ops

    client = stage_client(stage, endpoint, region)
    if client is None:
        raise UsageError(
            "`sweep submit` sends a sweep to a deployed stage.",
            field="--stage",
            hint="name one with --stage dev (or --endpoint URL); to run here, use `sweep run`.",
        )
    answer = client.submit(load_sweep(file))
    stage_ops.print_submitted(answer, client.stage)
    if watch:
        watch_and_exit(client, answer["run_id"])


@app.command()
@handles_errors
def retry(
    run_id: Annotated[str, typer.Argument(help="The run to complete.")],
    out: OutOption = DEFAULT_OUT,
    workers: WorkersOption = None,
    metric: MetricOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    stage: StageOption = None,
    endpoint: EndpointOption = None,
    region: RegionOption = None,
    watch: WatchOption = False,
) -> None:
    """Rerun only the failed and missing shards of a run (each with its next attempt number)."""
    client = stage_client(stage, endpoint, region)
    if client is not None:
        answer = client.retry(run_id)
        handed = answer["dispatched"] + answer["delegated"]
        render.err.print(
            f"retrying {answer['failed']} failed and {answer['missing']} missing shards of {run_id} "
            f"({handed} handed over, {answer['dispatch_failed']} not)"
        )
        if watch:
            watch_and_exit(client, run_id, quiet)
        return
    manifest = load_manifest(LocalStore(out), run_id)
    runtime, dispatcher = local_runtime(out, workers or default_workers(), manifest.effective_settings())
    with pool_session(dispatcher):
        result = retry_run(runtime, run_id)
        if not result.dispatched:
            render.err.print(f"run {run_id} has no failed or missing shards.")
        else:
            render.err.print(f"retrying {result.failed} failed and {result.missing} missing shards of {run_id}")
            _progress(dispatcher, manifest, dispatcher.points_dispatched, quiet)
    raise typer.Exit(_finish(out, manifest, metric, quiet))


@app.command()
@handles_errors
def plan(
    file: SweepFileArgument,
    settings: SettingsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Check a sweep file and show its points, shards and caps, without running anything."""
    payload = load_sweep(file)
    effective = load_settings(settings)
    runtime, _ = local_runtime(Path("."), 1, effective)
    manifest = prepare(payload, runtime)
    size = request_size(manifest.request.model_dump(mode="json", exclude_none=True))
    if as_json:
        print(
            json.dumps(
                {"plan": manifest.plan.model_dump(mode="json"), "request_bytes": size, "settings": manifest.settings},
                indent=2,
            )
        )
        return
    for table in render.plan_tables(manifest, size, manifest.settings):
        render.out.print(table)
    space_preview(manifest)


def space_preview(manifest: RunManifest, count: int = 5) -> None:
    from sweep_contracts.points import PointSpace

    space = PointSpace(manifest.request, manifest.request.config)
    render.out.print("[bold]First points[/bold] (effective config)")
    for index in range(min(count, space.size)):
        point = space.point(index)
        render.out.print(f"  {index:>4}  {point.series:<12} {json.dumps(space.effective_config(point))}")


@app.command()
@handles_errors
def status(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    out: OutOption = DEFAULT_OUT,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    stage: StageOption = None,
    endpoint: EndpointOption = None,
    region: RegionOption = None,
    watch: WatchOption = False,
    check: Annotated[
        bool, typer.Option("--check", help="Check the run's invariants in its store; exit 1 on a violation.")
    ] = False,
) -> None:
    """Show a run's progress: shards by outcome, points by status, failures and what is missing."""
    client = stage_client(stage, endpoint, region)
    if check:
        from sweep_cli.check import check_command, stage_store

        raise typer.Exit(check_command(run_id, stage_store(client.stage) if client else LocalStore(out), as_json))
    if client is not None:
        from sweep_cli import stage_ops

        result = stage_ops.watch(client, run_id) if watch else stage_ops.as_status(client.status(run_id))
    else:
        result = run_status(LocalStore(out), run_id)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        render.out.print(render.status_text(result))
    raise typer.Exit(exit_code(result) if result.done else EXIT_OK)


@app.command()
@handles_errors
def results(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    out: OutOption = DEFAULT_OUT,
    sql: Annotated[str | None, typer.Option("--sql", help="SQL over the views `points` and `outcomes`.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    metric: MetricOption = None,
    stage: StageOption = None,
    endpoint: EndpointOption = None,
    region: RegionOption = None,
    local: Annotated[
        bool, typer.Option("--local", help="With --stage: download the run's Parquet into --out and use DuckDB.")
    ] = False,
) -> None:
    """Query a run's results with SQL (DuckDB here, Athena on a stage); without --sql, the summary."""
    client = stage_client(stage, endpoint, region)
    if client is not None:
        from sweep_cli import stage_ops

        if not local:
            if sql:
                render.print_result(stage_ops.athena(client.stage).run(sql, run_id), fmt.value)
                return
            result, name, goal = stage_ops.athena_summary(client, client.stage, run_id, metric)
            _print_summary_result(result, name, goal, fmt)
            return
        fetched = stage_ops.download(client.stage, run_id, out)
        render.err.print(f"downloaded {fetched} changed objects of run {run_id} into {out}")
    manifest = load_manifest(LocalStore(out), run_id)
    db = ResultsDB(out, run_id)
    try:
        if sql:
            render.print_result(db.query(sql), fmt.value)
            return
        objective = run_objective(manifest.request.experiment, metric, db.metric_names)
        if objective is None:
            render.err.print("no metrics were recorded for this run")
            return
        name, goal = objective
        _print_summary_result(db.query(summary_sql(name, goal, manifest.plan.repeats)), name, goal, fmt)
    finally:
        db.close()


def _print_summary_result(result: Any, name: str, goal: str, fmt: Format) -> None:
    if fmt is Format.table:
        render.out.print(render.summary_table(result, name, goal))
    else:
        render.print_result(result, fmt.value)


@app.command()
@handles_errors
def runs(
    out: OutOption = DEFAULT_OUT,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the newest N runs.")] = 20,
    stage: StageOption = None,
    endpoint: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """List the runs in a results directory (or on a stage), newest first."""
    client = stage_client(stage, endpoint, region)
    if client is not None:
        from sweep_cli.query import QueryResult

        found = client.runs(limit)
        columns = ["run_id", "experiment", "created_at", "points", "shards", "description"]
        render.print_result(QueryResult(columns, [tuple(r.get(c) for c in columns) for r in found]), "table")
        return
    store = LocalStore(out)
    manifests = list_runs(store, limit)
    if not manifests:
        render.err.print(f"no runs in {out}; start one with `sweep run examples/maze.yaml --out {out}`")
        return
    rows = [(m, run_status(store, m.run_id, m)) for m in manifests]
    render.out.print(render.runs_table(rows))


@app.command()
@handles_errors
def report(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    out: OutOption = DEFAULT_OUT,
    output: Annotated[
        Path | None, typer.Option("--output", help="HTML file [default: <out>/report-<run_id>.html].")
    ] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metrics to plot [default: all].")] = None,
) -> None:
    """Write a self-contained HTML report: each metric against each swept parameter, per series."""
    from sweep_cli.report import write_report

    path = write_report(out, run_id, output or out / f"report-{run_id}.html", metric or [])
    render.out.print(f"report written to {path}")


@app.command()
@handles_errors
def experiments(
    name: Annotated[str | None, typer.Argument(help="Show one experiment's config fields.")] = None,
) -> None:
    """List the registered experiments, or one experiment's config fields."""
    registry = Registry.default()
    if name is None:
        for experiment_name in registry.names():
            experiment = registry.get(experiment_name)
            render.out.print(f"[bold]{experiment_name}[/bold]  {experiment.description}")
        return
    experiment = registry.get(name)
    render.out.print(f"[bold]{name}[/bold]  {experiment.description}")
    if experiment.objective:
        render.out.print(f"objective: {experiment.objective.goal} {experiment.objective.metric}")
    render.out.print(f"metrics: {', '.join(experiment.metrics)}")
    from rich.table import Table

    table = Table(title="config fields", title_justify="left", header_style="bold")
    for column in ("field", "type", "default", "description"):
        table.add_column(column)
    for field_name, info in experiment.config_model.model_fields.items():
        annotation = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
        table.add_row(field_name, annotation, render.cell(info.default), info.description or "")
    render.out.print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        render.err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
