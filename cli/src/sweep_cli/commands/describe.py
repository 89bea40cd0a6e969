"""Commands that run nothing: `plan` (check a sweep file) and `experiments` (what can be swept)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sweep_cli import render
from sweep_cli.app import SettingsOption, SweepFileArgument, app, handles_errors
from sweep_cli.engine import local_runtime
from sweep_cli.files import load_settings, load_sweep
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_orchestrator.submit import prepare, request_size


@app.command()
@handles_errors
def plan(
    file: SweepFileArgument,
    settings: SettingsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Check a sweep file and show its points, shards and caps, without running anything."""
    effective = load_settings(settings)
    payload = load_sweep(file, effective.max_request_bytes)
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
