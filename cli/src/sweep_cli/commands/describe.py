"""Commands that run nothing: `plan` (check a sweep file) and `experiments` (what can be swept)."""

from __future__ import annotations

import json
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import typer

from sweep_cli import render
from sweep_cli.app import SetOption, SettingsOption, SweepFileArgument, app, handles_errors

if TYPE_CHECKING:  # the planner and the models wait for the command (`sweep --help` stays cheap)
    from pydantic.fields import FieldInfo

    from sweep_contracts.manifest import RunManifest


@app.command()
@handles_errors
def plan(
    file: SweepFileArgument,
    settings: SettingsOption = None,
    overrides: SetOption = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage",
            "-s",
            help="Plan with this stage's settings (its stack config) and estimate the run's cost and makespan there.",
        ),
    ] = None,
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            min=0,
            max=100,
            help="Run this many points here first (as `sweep try` does) and use their mean time as `expected_point_s`.",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Check a sweep file and show its points, shards and caps, without running anything; with --stage,
    what the run would cost and how long it would take there (exit 2 when the stage would refuse it)."""
    from sweep_cli.files import load_settings
    from sweep_cli.local.engine import local_runtime
    from sweep_cli.overrides import sweep_request
    from sweep_cli.stage import costing
    from sweep_orchestrator.submit import prepare, request_size, run_estimate, run_warnings

    effective = load_settings(settings)
    if stage is not None:
        effective = costing.stage_settings(stage, effective)
    payload = sweep_request(file, overrides, None, effective.max_request_bytes)
    point_s = None
    from sweep_contracts.search import is_search

    if is_search(payload):
        from sweep_cli.search.plan import plan_search

        runtime, _ = local_runtime(Path("."), 1, effective, on_lambda=stage is not None)
        plan_search(payload, runtime, stage, as_json=as_json)
        return
    if sample:
        runtime, _ = local_runtime(Path("."), 1, effective)  # plans without the refusals: no time per point yet
        point_s = costing.measure_point_s(prepare(payload, runtime), sample, effective.worker_memory_mb)
        payload["expected_point_s"] = point_s
    runtime, _ = local_runtime(Path("."), 1, effective, on_lambda=stage is not None)
    manifest = prepare(payload, runtime)  # raises, naming the setting, where the stage would refuse the run
    size = request_size(manifest.request.model_dump(mode="json", exclude_none=True))
    experiment = runtime.registry.get(manifest.request.experiment)
    estimate = run_estimate(manifest, effective, experiment.secrets) if stage is not None else None
    warnings = run_warnings(estimate, effective, experiment) if estimate else []
    shards_note = None
    if stage is None:
        from sweep_cli.local.engine import default_workers
        from sweep_cli.local.plan_note import local_shards_note

        shards_note = local_shards_note(manifest, effective, point_s, default_workers())
    if as_json:
        answer: dict[str, Any] = {
            "plan": manifest.plan.model_dump(mode="json"),
            "request_bytes": size,
            "settings": manifest.settings,
        }
        if shards_note:
            answer["local_shards"] = shards_note
        if estimate:
            answer |= {"estimate": estimate.model_dump(mode="json"), "warnings": warnings}
        print(json.dumps(answer, indent=2))
        return
    for table in render.plan_tables(manifest, size, manifest.settings, shards_note):
        render.out.print(table)
    if estimate:
        render.out.print(costing.estimate_table(estimate, stage or ""))
    for warning in warnings:
        render.err.print(render.shown(f"warning: {warning}"))
    space_preview(manifest)


def space_preview(manifest: RunManifest, count: int = 5) -> None:
    from sweep_contracts.points import PointSpace

    space = PointSpace(manifest.request, manifest.effective_config())
    render.out.print("[bold]First points[/bold] (effective config)")
    for index in range(min(count, space.size)):
        point = space.point(index)
        render.out.print(render.shown(f"  {index:>4}  {point.series:<12} {json.dumps(space.effective_config(point))}"))


def type_text(annotation: Any) -> str:
    """A config field's type as a user writes its values: `Literal` lists the allowed ones."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(a) if isinstance(a, str) else str(a) for a in args)
    if origin in (Union, UnionType):
        return " | ".join(type_text(a) for a in args)
    if annotation is type(None):
        return "null"
    name = getattr(annotation, "__name__", None)
    return name if name and not args else str(annotation).replace("typing.", "")


@app.command()
@handles_errors
def experiments(
    name: Annotated[str | None, typer.Argument(help="Show one experiment's config fields.")] = None,
) -> None:
    """List the registered experiments, or one experiment's config fields."""
    from sweep_contracts.experiments import Registry

    registry = Registry.default()
    if name is None:
        # a plugin is listed from its metadata, not imported: one that is slow, exits or reads the
        # command line on import cannot hold up or end this list (`experiments NAME` loads it)
        for experiment_name in registry.names():
            plugin, packages = registry.plugin(experiment_name), registry.conflicts.get(experiment_name)
            if packages:
                about = f"refused: registered by {' and '.join(packages)}"
            elif plugin:
                about = f"from package `{plugin}`; `sweep experiments {experiment_name}` shows it"
            else:
                found = registry.find(experiment_name)
                about = found.description if found else "could not be loaded (see the warning)"
            render.out.print(render.shown(experiment_name, "bold").append_text(render.shown(f"  {about}")))
        return
    experiment = registry.get(name)
    render.out.print(render.shown(name, "bold").append_text(render.shown(f"  {experiment.description}")))
    if experiment.objective:
        render.out.print(render.shown(f"objective: {experiment.objective.goal} {experiment.objective.metric}"))
    render.out.print(render.shown(f"metrics: {', '.join(experiment.metrics)}"))
    from rich.table import Table

    table = Table(title="config fields", title_justify="left", header_style="bold")
    for column in ("field", "type", "default", "bounds", "description"):
        table.add_column(column)
    for field_name, info in experiment.config_model.model_fields.items():
        table.add_row(
            render.shown(field_name),
            render.shown(type_text(info.annotation)),
            render.shown("required", "bold") if info.is_required() else render.cell(default_value(info)),
            render.shown(bounds_text(info)),
            render.shown(info.description or ""),
        )
    render.out.print(table)


_BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "multiple_of": "multiple of"}
_LENGTHS = {"min_length": "length ≥", "max_length": "length ≤"}


def bounds_text(info: FieldInfo) -> str:
    """A config field's constraints as a user reads them (`≥ 2, ≤ 301`, `length ≤ 64`); its choices
    are in its type (`type_text`)."""
    parts = []
    for item in info.metadata:
        for attribute, symbol in (_BOUNDS | _LENGTHS).items():
            value = getattr(item, attribute, None)
            if value is not None:
                parts.append(f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}")
    return ", ".join(parts)


def default_value(info: FieldInfo) -> Any:
    """A field's default, a default factory's value included."""
    return info.get_default(call_default_factory=True)
