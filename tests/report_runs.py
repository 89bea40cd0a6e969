"""A finished run written straight to a results directory (manifest, points, outcomes), without
evaluating a point: for report tests and benchmarks that need many points fast. The metrics are
a function of the point's index and parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sweep_cli.local.engine import local_runtime
from sweep_contracts import layout
from sweep_contracts._json import param_text
from sweep_contracts.outcomes import Outcome
from sweep_contracts.points import PointSpace
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.submit import prepare
from sweep_worker.sink import PointRows

Metrics = Callable[[int, Mapping[str, Any]], dict[str, float]]


def write_run(out: Path, payload: dict[str, Any], metrics: Metrics) -> str:
    """Plan `payload` as `sweep run` would and store every point as ok with `metrics(index, params)`,
    under the keys today's worker writes: each shard's points file and outcome name its execution's
    tag, so status counts the points from the listing, as for a run `sweep run` wrote."""
    settings = SystemSettings.resolve({}, source="default")
    runtime, _ = local_runtime(out, 1, settings)
    manifest = prepare(payload, runtime)
    store = LocalStore(out)
    store.put(layout.manifest_key(manifest.run_id), manifest.to_json())
    space = PointSpace(manifest.request, manifest.request.config)
    now = datetime.now(UTC)
    for shard in manifest.plan.shards():
        tag = layout.execution_tag(f"{shard.shard_id:016x}", shard.size, 0)
        rows = PointRows(shard.shard_id, tag)
        for index in range(shard.start, shard.stop):
            point = space.point(index)
            rows.add(
                point_index=index,
                series=point.series,
                repeat=point.repeat,
                params={k: param_text(v) for k, v in point.params.items()},
                metrics=metrics(index, point.params),
                error=None,
                duration_ms=0.01,
                config_json="{}",
                finished_at_ms=0,
            )
        store.put(layout.points_key(manifest.run_id, shard.shard_id, tag), rows.to_parquet())
        outcome = Outcome(
            run_id=manifest.run_id,
            shard_id=shard.shard_id,
            status="success",
            points_total=shard.size,
            points_ok=shard.size,
            started_at=now,
            finished_at=now,
            duration_ms=0.0,
            execution=tag,
        )
        store.put(outcome.key, outcome.to_parquet())
    return manifest.run_id
