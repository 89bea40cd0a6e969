"""Timing a sweep's points before it is planned, so the local engine can size its shards."""

from __future__ import annotations

from typing import Any

from sweep_contracts.experiments import Experiment
from sweep_contracts.tasks import ShardTask
from sweep_worker.budget import TimeBudget
from sweep_worker.evaluate import evaluate_points
from sweep_worker.loop import BATCH_POINTS
from sweep_worker.sink import PointRows

RUNS = 4
"""An experiment with `run_batch` is timed on this many runs of consecutive points spread over the
sweep, in chunks, as its shards run it (its points alone would time the per-point path)..."""
RUN_POINTS = BATCH_POINTS
"""... of up to one full chunk each: a chunk's rows cost ~1 ms whatever its size, which a shard
spreads over `BATCH_POINTS` points. Over runs of 500, fast points looked 5-8x slower than they
run (17 against 2-3 µs a point for `synthetic`), so a 2,000,000-point sweep got 40-70 shards of
0.1-0.2 s instead of ~1 s each; timed on full chunks it gets 9-21, and ran ~12% faster (issue 13)."""


def probe_point_cost(task: ShardTask, experiment: Experiment[Any], seconds: float, points: int) -> float | None:
    """Seconds per point (sweep's own per-point work included) over up to `points` points spread
    evenly over the sweep (batched: `RUNS` runs of `RUN_POINTS`), within `seconds` (a point that
    overruns them is interrupted): how long a shard of n points will take, for sizing local shards.
    Nothing is written. None for experiments whose points wait on a service or need secrets: they
    are not run just to be timed.

    The first point runs untimed: what a process pays once (lazy imports, first calls) is no
    point's cost, and counted in, it made fast points look many times slower than they are."""
    if experiment.io_bound or experiment.secrets:
        return None
    size = task.point_space().size
    count = max(1, min(points, size))
    budget = TimeBudget.fixed(seconds, 0)
    started = budget.timer()
    if experiment.run_batch is None:
        stopped = evaluate_points(task, experiment, budget, {}, 0, PointRows(task.shard_id).add_row, [0])
    else:  # the batch path's own first calls (its column kernels) too
        warm, first_two = PointRows(task.shard_id), task.model_copy(update={"start": 0, "stop": min(2, size)})
        stopped = evaluate_points(first_two, experiment, budget, {}, 0, warm.add_row, add_columns=warm.add_columns)
    first = budget.timer() - started
    if stopped:  # the first point alone overran the probe: it costs at least that much
        return max(first, seconds)
    rows = PointRows(task.shard_id)
    started = budget.timer()
    if experiment.run_batch is None:
        indices = sorted({i * size // count for i in range(count)})
        evaluate_points(task, experiment, budget, {}, 0, rows.add_row, indices)
    else:
        for run in range(RUNS):
            start = run * size // RUNS
            stop = min(size, start + RUN_POINTS)
            part = task.model_copy(update={"start": start, "stop": stop})
            evaluate_points(part, experiment, budget, {}, start, rows.add_row, add_columns=rows.add_columns)
            if not budget.allows_next():
                break
    elapsed = budget.timer() - started
    return elapsed / len(rows) if len(rows) else first
