"""`sweep plan --stage`: the stage's settings from its stack config, a measured time per point, and
the run estimate as a table (the numbers are `sweep_orchestrator.cost.estimate`'s, as submit computes them)."""

from __future__ import annotations

import statistics
import time

from rich.table import Table

from sweep_cli import render
from sweep_cli.errors import UsageError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.settings import SystemSettings
from sweep_orchestrator.cost.estimate import RunEstimate


def stage_settings(stage: str, local: SystemSettings) -> SystemSettings:
    """The stage's settings as its stack config (`Pulumi.<stage>.yaml`, `sweep:settings`) sets them,
    with the values of a `--settings` file over them (to ask "what if")."""
    from sweep_cli.stage.params import stack_settings
    from sweep_cli.stage.resolve import check_stage_name, pulumi_dir

    directory = pulumi_dir()
    stack = stack_settings(check_stage_name(stage), directory)
    if not stack:
        raise UsageError(
            f"no stack config names the settings of stage `{stage}`: `sweep:settings` in Pulumi.{stage}.yaml "
            f"({directory or 'no Pulumi.yaml here or above'}).",
            field="--stage",
            value=stage,
            hint="run from the sweep repository (or set SWEEP_PULUMI_DIR), or give the stage's settings with "
            "--settings FILE instead of --stage.",
        )
    given = {name: value for name, value in local.values().items() if local.provenance[name].source == "file"}
    settings = SystemSettings.resolve({**stack, **given}, source="file", strict=True)
    return settings.model_copy(update={"experiment_defaults": local.experiment_defaults})


def sample_indices(points: int, count: int) -> list[int]:
    """`count` points spread over the run, first and last included: axis extremes often differ most."""
    if count <= 1 or points == 1:
        return [0]
    count = min(count, points)
    return sorted({round(i * (points - 1) / (count - 1)) for i in range(count)})


def measure_point_s(manifest: RunManifest, count: int, memory_mb: int) -> float:
    """Seconds per point: the mean over `count` points run here, as `sweep try` runs one."""
    from sweep_cli.commands.trial import run_point
    from sweep_contracts.points import PointSpace

    space = PointSpace(manifest.request, manifest.effective_config())
    seconds = []
    for index in sample_indices(space.size, count):
        started = time.perf_counter()
        run_point(manifest, space, index)
        seconds.append(time.perf_counter() - started)
    mean = statistics.fmean(seconds)
    render.err.print(
        f"measured {len(seconds)} points here: {mean:.3g} s per point on average (min {min(seconds):.3g}, "
        f"max {max(seconds):.3g}); the stage's worker has {memory_mb / 1769:.2g} vCPU ({memory_mb:,} MB): "
        "scale `expected_point_s` by hand if this machine is much faster"
    )
    return mean


def estimate_table(estimate: RunEstimate, stage: str) -> Table:
    table = Table(title=f"Estimate on stage {stage}", title_justify="left", header_style="bold")
    for name in ("item", "amount", "USD"):
        table.add_column(name, justify="right" if name == "USD" else "left")
    table.add_row("time per shard", render.duration_text(estimate.shard_s), "", end_section=False)
    table.add_row("  from", estimate.source_text(), "")
    table.add_row(
        "makespan",
        f"{render.duration_text(estimate.makespan_s)} on {estimate.concurrency:,} workers",
        "",
    )
    table.add_row(
        "last shard starts",
        f"after {render.duration_text(estimate.last_start_s)} (event age {estimate.max_event_age_s:,} s"
        + (f": {estimate.expired_shards:,} shards expire)" if estimate.expired_shards else ")"),
        "",
    )
    for name, item in estimate.cost.items():
        table.add_row(name.replace("_", " "), f"{item.units:,.0f} {item.unit}", f"{item.usd:,.4f}")
    table.add_row("total", "upper bound" if estimate.upper_bound else "expected", f"{estimate.cost_usd:,.2f}")
    return table
