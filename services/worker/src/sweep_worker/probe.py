"""Timing a sweep's points before it is planned, so the local engine can size its shards."""

from __future__ import annotations

from typing import Any

from sweep_contracts.experiments import Experiment
from sweep_contracts.tasks import ShardTask
from sweep_worker.budget import TimeBudget
from sweep_worker.evaluate import evaluate_points
from sweep_worker.sink import PointRows


def probe_point_cost(task: ShardTask, experiment: Experiment[Any], seconds: float, points: int) -> float | None:
    """Seconds per point (sweep's own per-point work included) over up to `points` points spread
    evenly over the sweep, within `seconds` (a point that overruns them is interrupted): how long a
    shard of n points will take, for sizing local shards. Nothing is written. None for experiments
    whose points wait on a service or need secrets: they are not run just to be timed."""
    if experiment.io_bound or experiment.secrets:
        return None
    size = task.point_space().size
    count = max(1, min(points, size))
    indices = sorted({i * size // count for i in range(count)})
    rows = PointRows(task.shard_id)
    budget = TimeBudget.fixed(seconds, 0)
    started = budget.timer()
    stopped = evaluate_points(task, experiment, budget, {}, 0, rows.add_point, indices)
    elapsed = budget.timer() - started
    if not len(rows):  # the first point alone overran the probe: it costs at least that much
        return max(elapsed, seconds) if stopped else None
    return elapsed / len(rows)
