"""Run an I/O-bound experiment's points concurrently inside one shard.

The contract is the sequential runner's: one row per point run (written in index order), per-point
error capture, and no point started once the time budget cannot fit it. Concurrency is bounded by
the experiment config's `concurrency` (read from the shard's first point; a sweep that varies it
runs each shard at its first point's value), capped at MAX_CONCURRENCY. A thread cannot be
interrupted, so a point still running when the budget runs out is abandoned (not recorded); the
experiment's own request timeouts keep that rare and bounded."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.experiments import Experiment
from sweep_contracts.points import PointSpace, SweepPoint
from sweep_contracts.tasks import ShardTask
from sweep_worker.budget import TimeBudget
from sweep_worker.evaluate import PointOutcome, evaluate
from sweep_worker.sink import PointRows

MAX_CONCURRENCY = 64


def shard_concurrency(space: PointSpace, start: int, experiment: Experiment[Any]) -> int:
    """The `concurrency` of the shard's first point's config (1 when the config has none or is invalid)."""
    try:
        config = experiment.parse_config(space.effective_config(space.point(start)))
    except Exception:
        return 1  # the point itself will report its invalid config
    return max(1, min(MAX_CONCURRENCY, int(getattr(config, "concurrency", 1))))


def _timed(
    experiment: Experiment[Any], effective: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[PointOutcome, float, int]:
    started = time.perf_counter()
    outcome = evaluate(experiment, effective, secrets)
    return outcome, (time.perf_counter() - started) * 1000, time.time_ns() // 1_000_000


def run_concurrently(
    task: ShardTask,
    space: PointSpace,
    experiment: Experiment[Any],
    budget: TimeBudget,
    secrets: Mapping[str, str],
    rows: PointRows,
) -> str | None:
    """Evaluate the shard's points, up to `concurrency` at once, into `rows`; returns a note for
    the outcome when points were abandoned at the end of the budget."""
    limit = shard_concurrency(space, task.start, experiment)
    todo = iter(range(task.start, task.stop))
    running: dict[Future[tuple[PointOutcome, float, int]], tuple[int, SweepPoint, dict[str, Any]]] = {}
    finished: list[tuple[int, SweepPoint, dict[str, Any], PointOutcome, float, int]] = []
    abandoned = 0
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"shard-{task.shard_id}")
    try:

        def refill() -> None:
            while len(running) < limit and budget.allows_next():
                index = next(todo, None)
                if index is None:
                    return
                point = space.point(index)
                effective = space.effective_config(point)
                running[pool.submit(_timed, experiment, effective, secrets)] = (index, point, effective)

        refill()
        while running:
            done, _ = wait(running, timeout=max(budget.left_ms(), 0.0) / 1000, return_when=FIRST_COMPLETED)
            if not done:
                abandoned = len(running)
                break
            for future in done:
                index, point, effective = running.pop(future)
                outcome, duration_ms, finished_ms = future.result()
                # Points overlap: the budget's estimate of the next one is its share of the wall time.
                budget.record(duration_ms / limit)
                finished.append((index, point, effective, outcome, duration_ms, finished_ms))
            refill()
    finally:
        pool.shutdown(wait=not abandoned, cancel_futures=True)
    for index, point, effective, outcome, duration_ms, finished_ms in sorted(finished, key=lambda f: f[0]):
        rows.add(
            point_index=index,
            series=point.series,
            repeat=point.repeat,
            params={k: param_text(v) for k, v in point.params.items()},
            metrics=outcome.metrics,
            error=outcome.error,
            duration_ms=duration_ms,
            config_json=canonical_json(effective),
            finished_at_ms=finished_ms,
            output=outcome.output,
            call_json=outcome.call_json,
        )
    if abandoned:
        return f"{abandoned} points were still running when the time budget ran out and were abandoned. "
    return None
