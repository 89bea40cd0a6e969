"""Run an I/O-bound experiment's points concurrently inside one shard.

The contract is the sequential runner's: one row per point run (written in index order), per-point
error capture, and no point started once the time budget cannot fit it. Concurrency is bounded by
the experiment config's `concurrency` (read from the shard's first point; a sweep that varies it
runs each shard at its first point's value), capped at MAX_CONCURRENCY. A thread cannot be
interrupted, so a point still running when the budget runs out is abandoned (not recorded). Each
point runs in a copy of the shard's context, so its calls see the shard's scope
(`sweep_contracts.scope`): they end by the budget's deadline, and the runner gives abandoned points
up to `ABANDON_GRACE_S` to notice before the shard's scope closes their connections. Nothing a
shard starts may outlive it in a warm worker (issue 20, item 6)."""

from __future__ import annotations

import contextvars
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from sweep_contracts.errors import StoreError
from sweep_contracts.experiments import Experiment
from sweep_contracts.points import PointSpace
from sweep_contracts.tasks import ShardTask
from sweep_worker.budget import TimeBudget
from sweep_worker.point import run_point
from sweep_worker.row import AddRow, PointRow, RowBuilder
from sweep_worker.texts import ShardTexts

MAX_CONCURRENCY = 64
ABANDON_GRACE_S = 2.0
"""Longest wait, at most half the budget's margin, for abandoned points to end (their calls end at
the deadline, so they usually take milliseconds) before the shard closes what they hold."""


def grace_s(budget: TimeBudget) -> float:
    """How long abandoned points may take to end: `ABANDON_GRACE_S`, at most half the margin."""
    return min(ABANDON_GRACE_S, budget.margin_ms / 2000)


def shard_concurrency(space: PointSpace, start: int, experiment: Experiment[Any]) -> int:
    """The `concurrency` of the shard's first point's config (1 when the config has none or is invalid)."""
    try:
        config = experiment.parse_config(space.effective_config(space.point(start)))
    except StoreError:
        raise  # what every point reads is unavailable: the shard fails, for retry
    except Exception:
        return 1  # the point itself will report its invalid config
    return max(1, min(MAX_CONCURRENCY, int(getattr(config, "concurrency", 1))))


def run_concurrently(
    task: ShardTask,
    experiment: Experiment[Any],
    budget: TimeBudget,
    build: RowBuilder,
    add: AddRow,
) -> str | None:
    """Evaluate the shard's points, up to `concurrency` at once, their rows to `add` in index
    order; returns a note for the outcome when points were abandoned at the end of the budget."""
    space = task.point_space()
    limit = shard_concurrency(space, task.start, experiment)
    # each point's texts are made here, on the shard's thread: the points' threads share nothing
    texts = ShardTexts(space, experiment.takes_seed)
    todo = iter(range(task.start, task.stop))
    running: set[Future[PointRow]] = set()
    finished: list[PointRow] = []
    abandoned = 0
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"shard-{task.shard_id}")
    try:

        def refill() -> None:
            # A point started must fit: the budget's estimate is one point's wall time, whatever
            # the concurrency, since each point waits on its own call.
            while len(running) < limit and budget.allows_next():
                index = next(todo, None)
                if index is None:
                    return
                context = contextvars.copy_context()  # one per point: a context runs in one thread at a time
                point = texts.texts(index)
                running.add(pool.submit(context.run, run_point, experiment, index, point, budget, build))

        refill()
        while running:
            done, _ = wait(running, timeout=max(budget.left_ms(), 0.0) / 1000, return_when=FIRST_COMPLETED)
            if not done:
                abandoned = len(running)
                wait(running, timeout=grace_s(budget))
                break
            for future in done:
                running.discard(future)
                finished.append(future.result())
            refill()
    finally:
        pool.shutdown(wait=not abandoned, cancel_futures=True)
    for row in sorted(finished, key=lambda r: r.point_index):
        add(row)
    if abandoned:
        return f"{abandoned} points were still running when the time budget ran out and were abandoned. "
    return None
