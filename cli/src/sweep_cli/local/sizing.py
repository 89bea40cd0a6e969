"""Local shards sized for the local engine: from the measured cost of a point, so that a shard
takes about `TARGET_SHARD_S`.

A shard costs a fixed amount (its task, two Parquet files, a round trip to the pool) besides its
points. The stage default (`shard_size` 100) suits Lambda, where a shard is a function invocation;
on this machine it makes a near-zero-cost sweep spend most of its time on shard overhead. So when
neither the request nor a settings file sets `shard_size`, `sweep run` first times a few points
spread over the sweep in a pool process (`PROBE_POINTS` within `PROBE_S`) and takes the shard size
that makes a shard last about a second: fast points get large shards (overhead vanishes), slow
points small ones (progress, retries and interrupts stay fine-grained). The planner's other bounds
still apply: at least `min_shards` shards, at most `max_shards`.

Identity: the shard size is part of the run's plan, recorded in its manifest (the setting
`shard_size` with a note saying it was measured), not of its identity. `run_id` and the content
hash cover the request only, so the same request resubmitted is the same run whatever was measured,
and `sweep retry` reruns shards of the recorded plan, never a re-measured one. The points and their
order do not depend on the shard size; only how they are grouped into shards does."""

from __future__ import annotations

from sweep_contracts.settings import Provenance, SystemSettings

TARGET_SHARD_S = 1.0
"""How long a local shard should take."""
PROBE_S = 0.25
"""At most this long is spent timing points before planning."""
PROBE_POINTS = 200
"""At most this many points are timed."""
MAX_SHARD_SIZE = 10_000_000
"""The setting's own upper bound."""
SHARDS_PER_WORKER = 4
"""`min_shards` for the local engine, per pool process: enough for an even finish and a moving
progress bar. The stage default (32) spreads a small sweep over Lambda invocations; here each
shard beyond these costs its task, files and round trip for nothing."""


def local_shard_size(seconds_per_point: float) -> int:
    """Points per shard so that a shard takes about `TARGET_SHARD_S`."""
    if seconds_per_point <= 0:
        return MAX_SHARD_SIZE
    return max(1, min(MAX_SHARD_SIZE, int(TARGET_SHARD_S / seconds_per_point)))


def measured(settings: SystemSettings) -> bool:
    """Whether `shard_size` is left to the local engine: no settings file or stage sets it."""
    return settings.provenance.get("shard_size", Provenance()).source == "default"


def sized(settings: SystemSettings, seconds_per_point: float, workers: int | None = None) -> SystemSettings:
    """`settings` with `shard_size` from the measured cost of a point, and a note saying so; with
    `workers`, `min_shards` too (`SHARDS_PER_WORKER`) unless a settings file or stage sets it."""
    size = local_shard_size(seconds_per_point)
    note = (
        f"measured by the local engine: {seconds_per_point * 1e6:,.1f} µs per point, so {size:,} points "
        f"take about {TARGET_SHARD_S:g} s"
    )
    provenance = {**settings.provenance, "shard_size": Provenance(note=note)}
    update: dict[str, object] = {"shard_size": size}
    default_min = settings.provenance.get("min_shards", Provenance()).source == "default"
    if workers is not None and default_min and SHARDS_PER_WORKER * workers < settings.min_shards:
        update["min_shards"] = SHARDS_PER_WORKER * workers
        provenance["min_shards"] = Provenance(note=f"the local engine: {SHARDS_PER_WORKER} per pool process")
    return settings.model_copy(update={**update, "provenance": provenance})
