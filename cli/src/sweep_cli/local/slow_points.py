"""The progress line's word on a point that runs long: a hanging point stalls a local run until
its shard's time budget ends it (890 s by default), with nothing on screen but a bar that stopped.
Past `SLOW_POINT_S`, the line says which shard (or point) runs, for how long, and when the budget
will end it — and which setting changes that."""

from __future__ import annotations

from sweep_cli.render import duration_text
from sweep_contracts.manifest import RunManifest

SLOW_POINT_S = 60.0
"""A shard that has run this long without an answer is named under the progress bar."""


def slow_text(manifest: RunManifest, shard_id: int, seconds: float) -> str:
    """What runs long: the point (a one-point shard) or the shard and its points, for how long,
    and the time budget that ends it."""
    settings = manifest.effective_settings()
    budget_s = settings.shard_time_budget_s - settings.time_budget_margin_ms / 1000
    shard = manifest.plan.shard(shard_id)
    what = (
        f"point {shard.start}"
        if shard.size == 1
        else f"shard {shard_id} (points {shard.start}..{shard.stop - 1}): a point in it"
    )
    return (
        f"{what} has run for {duration_text(seconds)}; its shard's time budget ends it after "
        f"{duration_text(budget_s)} (`shard_time_budget_s` {settings.shard_time_budget_s:g} s less the "
        f"margin {settings.time_budget_margin_ms / 1000:g} s; set it with `--settings FILE`)"
    )
