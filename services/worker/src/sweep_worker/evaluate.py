"""Evaluating a shard's points: per-point error capture inside the time budget, in this process
or, after the shard's previous attempt died with its process, in child processes that isolate
the point which kills them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sweep_contracts.experiments import Experiment
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.scope import shard_scope
from sweep_contracts.tasks import ShardTask
from sweep_worker.budget import PointAlarm, PointInterrupted, TimeBudget
from sweep_worker.capture import ShardCapture
from sweep_worker.concurrent import grace_s, run_concurrently
from sweep_worker.loop import ShardLoop
from sweep_worker.row import AddColumns, AddRow, Clock, Evaluated, PointRow, RowBuilder, wall_clock
from sweep_worker.sink import PointRows
from sweep_worker.texts import ShardTexts


@dataclass
class ShardResult:
    """What happened to the points of a shard."""

    rows: PointRows
    stop_code: ErrorCode | None = None
    stop_message: str | None = None


def evaluate_points(
    task: ShardTask,
    experiment: Experiment[Any],
    budget: TimeBudget,
    secrets: Mapping[str, str],
    start: int,
    add: AddRow,
    indices: Iterable[int] | None = None,
    add_columns: AddColumns | None = None,
    *,
    clock: Clock = wall_clock,
) -> str | None:
    """Evaluate the points from `start` in index order (or those of `indices`), handing each row
    to `add` (a block of rows to `add_columns`, when given), while the budget allows; rows finish
    by `clock`. Returns why it stopped early when a point overran
    the budget, else None. An experiment with `run_batch` gets chunks of points (`ShardLoop.chunk`).

    The per-point path is lean: shard constants are computed once (`ShardLoop`), and one timer is
    armed for the shard's whole budget, interrupting only a running point (`PointAlarm.inside`)."""
    index = start
    with PointAlarm() as alarm, ShardCapture() as captured:
        loop = ShardLoop(task, experiment, budget, RowBuilder(secrets, clock), add, alarm, captured, add_columns)
        alarm.inside = False
        alarm.arm(budget.left_ms())
        try:
            if experiment.run_batch is not None and indices is None:
                while index < task.stop and not alarm.expired and budget.allows_next():
                    chunk = range(index, min(task.stop, index + loop.chunk_size()))
                    loop.chunk(chunk)
                    index = chunk.stop
                return None
            for index in range(start, task.stop) if indices is None else indices:
                if alarm.expired or not budget.allows_next():
                    break
                loop.point(index)
        except PointInterrupted:
            return f"point {index} ran past the time budget and was interrupted. "
    return None


def shard_result(task: ShardTask, rows: PointRows, stop_message: str | None, budget: TimeBudget) -> ShardResult:
    """The result of the points run so far: a shard that did not run all its points stops with
    `TIME_BUDGET` and says how many were not run."""
    result = ShardResult(rows, stop_message=stop_message)
    not_run = task.points_total - len(rows)
    if not_run:
        result.stop_code = ErrorCode.TIME_BUDGET
        result.stop_message = (
            f"{stop_message or ''}The time budget ran short after {len(rows)} of {task.points_total} "
            f"points; {not_run} {'point was' if not_run == 1 else 'points were'} not run (margin "
            f"{budget.margin_ms:.0f} ms kept for writing results). "
            + _more_time(task.run_id, budget, task.points_total)
        )
    return result


def _more_time(run_id: str, budget: TimeBudget, shard_points: int) -> str:
    """The fix: more time, and a smaller shard_size only where the shard holds more than one point."""
    if budget.fixed_s is None:  # Lambda's clock: the function's timeout is the limit
        smaller = " or use a smaller shard_size" if shard_points > 1 else ""
        return f"Raise the worker function's timeout (at most 900 s){smaller}, then `sweep retry {run_id}`."
    more = max(int(budget.fixed_s * 2), int(budget.fixed_s) + 1)
    smaller = "; or use a smaller shard_size" if shard_points > 1 else " (the shard holds one point)"
    return (
        f"Raise the setting `shard_time_budget_s` (this run: {budget.fixed_s:g} s): "
        f"`sweep retry {run_id} --set shard_time_budget_s={more}`{smaller}."
    )


def run_points(
    task: ShardTask,
    experiment: Experiment[Any],
    budget: TimeBudget,
    secrets: Mapping[str, str],
    *,
    clock: Clock = wall_clock,
) -> ShardResult:
    """Evaluate the shard's points in index order. A raising point becomes an `error` row and the
    shard goes on; when the budget runs short the shard stops and says how many points were not run.
    An I/O-bound experiment's points run concurrently (`sweep_worker.concurrent`). Rows finish by `clock`."""
    rows = PointRows(task.shard_id)
    # The shard's scope: what its points open is closed with it, and their calls end by its deadline,
    # half-way into the grace after the budget (a call cut there is abandoned with its point, not
    # recorded as an error of its config).
    with shard_scope(time.monotonic() + budget.left_ms() / 1000 + grace_s(budget) / 2):
        if experiment.io_bound:
            stopped = run_concurrently(task, experiment, budget, RowBuilder(secrets, clock), rows.add_row)
        else:
            stopped = evaluate_points(
                task, experiment, budget, secrets, task.start, rows.add_row, add_columns=rows.add_columns, clock=clock
            )
    return shard_result(task, rows, stopped, budget)


def run_points_isolated(
    task: ShardTask,
    experiment: Experiment[Any],
    budget: TimeBudget,
    secrets: Mapping[str, str],
    *,
    clock: Clock = wall_clock,
) -> ShardResult:
    """`run_points` in child processes (see `sweep_worker.isolate`): a point that kills its process
    becomes an `error` row with error_type `WORKER_CRASHED`, and the shard's other points run."""
    from sweep_worker.isolate import run_isolated

    rows = PointRows(task.shard_id)
    build = RowBuilder(secrets, clock)

    def run_from(start: int, emit: AddRow) -> str | None:
        return evaluate_points(task, experiment, budget, secrets, start, emit, clock=clock)

    def on_row(row: PointRow) -> None:
        budget.record(row.duration_ms)
        rows.add_row(row)

    def on_crash(index: int, how: str, duration_ms: float) -> None:
        message = (
            f"the point ended its process ({how}): os._exit, a crash in native code, or running out of "
            "memory. It cannot report an error itself; the shard's other points ran in fresh processes."
        )
        texts = ShardTexts(task.point_space(), experiment.takes_seed).texts(index)
        crashed: Evaluated = ({}, (ErrorCode.WORKER_CRASHED.value, message), None, None, None)
        rows.add_row(build.row(index, texts, crashed, duration_ms, None))

    stopped = run_isolated(task.start, task.stop, run_from, on_row, on_crash, lambda: budget.left_ms() / 1000)
    return shard_result(task, rows, stopped, budget)
