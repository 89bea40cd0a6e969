"""Time budgets: when a shard stops, and the interrupt for a point that overruns."""

from __future__ import annotations

import contextlib
import signal
import time

import pytest

from sweep_contracts.experiments import Registry
from sweep_contracts.tasks import parse_task
from sweep_worker.budget import PointAlarm, PointInterrupted, TimeBudget
from sweep_worker.capture import ShardCapture
from sweep_worker.loop import ShardLoop
from sweep_worker.row import PointRow, RowBuilder
from tests.helpers import tasks_for


def test_budget_leaves_room_for_the_next_point() -> None:
    remaining = [1000.0]
    budget = TimeBudget(lambda: remaining[0], margin_ms=100)
    assert budget.left_ms() == 900
    budget.record(500)
    assert budget.allows_next()  # 900 > 1.5 * 500
    remaining[0] = 800
    assert not budget.allows_next()  # 700 < 750


def test_fixed_budget_counts_down() -> None:
    clock = [100.0]
    budget = TimeBudget.fixed(2, margin_ms=500, clock=lambda: clock[0])
    assert budget.left_ms() == 1500
    clock[0] += 1.75
    assert budget.left_ms() == -250
    assert not budget.allows_next()


def test_alarm_interrupts_a_point_that_overruns() -> None:
    started = time.monotonic()

    def stubborn_point() -> None:  # swallows ordinary exceptions; returns only if no alarm came in 10 s
        while time.monotonic() - started < 10:
            with contextlib.suppress(Exception):
                time.sleep(0.01)

    with PointAlarm() as alarm:
        alarm.arm(50)
        with pytest.raises(PointInterrupted):
            stubborn_point()
        alarm.disarm()
    assert time.monotonic() - started < 2


def test_disarmed_alarm_does_not_fire() -> None:
    # GIVEN an alarm armed for 20 ms, then disarmed
    before = signal.getsignal(signal.SIGALRM)
    with PointAlarm() as alarm:
        assert alarm.usable  # the tests run in the main thread on POSIX
        alarm.arm(20)
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
        alarm.disarm()
        # THEN no timer is left running, and waiting past the 20 ms raises nothing
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        time.sleep(0.05)
    # AND leaving restores the previous SIGALRM handler
    assert signal.getsignal(signal.SIGALRM) == before


def test_a_shard_alarm_interrupts_a_running_point_only() -> None:
    # GIVEN one alarm armed for a whole shard, its deadline passing between two points
    with PointAlarm() as alarm:
        alarm.inside = False
        alarm.arm(20)
        time.sleep(0.1)  # sweep's own code between points
        # THEN nothing is interrupted; the loop learns that the budget is spent
        assert alarm.expired
    # GIVEN the deadline passing while a point runs
    with PointAlarm() as alarm:
        alarm.inside = False
        alarm.arm(30)
        alarm.inside = True
        # THEN the point is interrupted
        with pytest.raises(PointInterrupted):
            _run_a_point_for(5.0)
        assert not alarm.expired


def _run_a_point_for(seconds: float) -> None:
    """A point that keeps running (bounded, should the alarm never come)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_point_prepared_past_the_deadline_does_not_start() -> None:
    # GIVEN a shard alarm whose deadline passed while the next point was being prepared (its texts
    # and config: sweep's code, outside any point), and a point that would sleep 5 s
    payload = {"experiment": "synthetic", "config": {"y": 0.0, "sleep_ms": 5000}, "points": [{"x": 0}]}
    task = parse_task(tasks_for(payload, "late-run").event(0))
    rows: list[PointRow] = []
    budget = TimeBudget(lambda: 0.0, margin_ms=0)
    started = time.monotonic()
    with PointAlarm() as alarm, ShardCapture() as captured:
        loop = ShardLoop(
            task, Registry.default().get("synthetic"), budget, RowBuilder({}), rows.append, alarm, captured
        )
        alarm.inside = False
        alarm.expired = True  # the alarm fired then: nothing was running to interrupt
        # WHEN the loop goes on to the point
        # THEN it is interrupted before it runs, as it would have been a moment later
        with pytest.raises(PointInterrupted):
            loop.point(0)
    assert rows == []
    assert time.monotonic() - started < 5  # the point's sleep never ran (5 s is its own length)


def test_a_shard_that_ran_short_says_how_many_points_and_how_much_more_time() -> None:
    from sweep_worker.evaluate import _more_time, shard_result
    from sweep_worker.sink import PointRows

    # GIVEN a one-point shard under a 0.3 s budget of the setting, whose point was not run
    payload = {"experiment": "synthetic", "config": {"y": 0.0}, "points": [{"x": 0}]}
    task = parse_task(tasks_for(payload, "short-run").event(0))
    # WHEN its result is made
    result = shard_result(task, PointRows(0), None, TimeBudget.fixed(0.3, margin_ms=0))
    # THEN it stops with TIME_BUDGET, in the singular, and asks for at least one whole second more
    assert (result.stop_message or "").startswith("The time budget ran short after 0 of 1 points; 1 point was not run")
    assert (result.stop_message or "").endswith(
        "`sweep retry short-run --set shard_time_budget_s=1` (the shard holds one point)."
    )
    # AND a shard of two points may also be made smaller
    assert _more_time("short-run", TimeBudget.fixed(10, margin_ms=0), 2).endswith(
        "`sweep retry short-run --set shard_time_budget_s=20`; or use a smaller shard_size."
    )


def test_the_shard_scope_ends_half_a_grace_after_the_budget() -> None:
    from pydantic import BaseModel

    from sweep_contracts import scope
    from sweep_contracts.experiments import Experiment
    from sweep_worker.concurrent import grace_s
    from sweep_worker.evaluate import run_points

    # GIVEN a point that reads how long its shard's calls may still run
    class Config(BaseModel):
        x: float = 0.0
        y: float = 0.0

    def run(cfg: Config) -> dict[str, float]:
        found = scope.current()
        assert found is not None
        assert found.deadline is not None
        return {"left": found.deadline - time.monotonic()}

    experiment = Experiment(name="deadline", config_model=Config, run=run, objective=None, metrics=("left",))
    payload = {"experiment": "synthetic", "config": {"y": 0.0}, "points": [{"x": 0}]}
    task = parse_task(tasks_for(payload, "scope-run").event(0))
    budget = TimeBudget(lambda: 100_000.0, margin_ms=4000)  # 96 s left, a grace of 2 s
    # WHEN the shard runs
    result = run_points(task, experiment, budget, {})
    # THEN its scope ends half-way into the grace after the budget: never later (time only shrinks it)
    (metrics,) = result.rows.to_table().column("metrics").to_pylist()
    assert 0 < dict(metrics)["left"] <= budget.left_ms() / 1000 + grace_s(budget) / 2
