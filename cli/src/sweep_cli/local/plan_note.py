"""What `sweep plan` says of a local run's shards: `sweep run` sizes them at run time from a probe
of a few points (`sweep_cli.local.sizing`), so the plan's shards (the stage's derivation) are not the
ones a local run gets. With `--sample`, the points already timed tell what it would pick."""

from __future__ import annotations

from sweep_cli.local import sizing
from sweep_contracts.manifest import RunManifest
from sweep_contracts.planning import plan_shards
from sweep_contracts.settings import SystemSettings

AT_RUN_TIME = "`sweep run` sizes local shards at run time, timing a few points first"


def local_shards_note(
    manifest: RunManifest, settings: SystemSettings, seconds_per_point: float | None, workers: int
) -> str | None:
    """The note for the plan's shards when a local run would size them itself (none when the
    request or a settings file sets `shard_size`): with a measured time per point, its choice."""
    if manifest.request.shard_size is not None or not sizing.measured(settings):
        return None
    if seconds_per_point is None:
        return f"on a stage; {AT_RUN_TIME} (`--sample N` shows its choice)"
    local = plan_shards(manifest.plan.points_total, sizing.sized(settings, seconds_per_point, workers))
    return (
        f"on a stage; {AT_RUN_TIME}: here about {local.shard_count:,} of {local.shard_size:,} points "
        f"({seconds_per_point * 1e3:,.3g} ms per sampled point, {workers} workers)"
    )
