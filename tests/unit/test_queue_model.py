"""The run estimate's queueing model (`sweep_orchestrator.cost.queueing`) against a discrete-event simulation
of Lambda written from AWS's documented rules (`tests/lambda_sim.py`): queueing, the concurrency
limit, the scaling rate (1,000 new environments per 10 s), throttled events retried after 1, 2, 4 …
up to 300 s, shard times that vary ±10 %, failed attempts retried after Lambda's backoff, and queued
invokes dropped at the maximum event age (issue 11, cost and time; issue 22, the throttle backoff).

Tolerances, stated once:
- makespan: within 15 % of the median of three seeded simulations, or inside their range (a late
  failure's retry makes small runs bimodal: it happens or it does not);
- Lambda duration (worker-seconds): within 5 % of the simulation's;
- event age: the estimate refuses exactly the runs where the simulation drops invokes, and its count
  of expired shards is within 6 % of the run's shards.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from sweep_contracts.prices import THROTTLE_MAX_S
from sweep_orchestrator.cost.queueing import Queue
from tests.lambda_sim import simulate

SEEDS = (0, 1, 2)


def graded(cases: list[tuple[int, int, float, *tuple[float, ...]]], long_from: int) -> list[object]:
    """The cases, those of `long_from` shards or more through at most 200 environments marked `long`:
    the simulation tries every queued event again up to every 300 s, so thousands of shards through
    few environments are ~10^6 events a seed, 4-30 s a case (330 s of `make test`'s 22 minutes).
    So do the 12,000-shard runs at any concurrency (2-3 s each). They run in the long tier (`make
    test-long`, in CI); `make test` keeps every concurrency at 40 and 400 (2,000 for the event age)
    shards, and 4,000 shards at concurrency 5,000."""
    return [
        pytest.param(*case, marks=pytest.mark.long)
        if case[0] >= long_from and (case[1] <= 200 or case[0] >= 12_000)
        else case
        for case in cases
    ]


MAKESPAN_GRID = graded(
    list(itertools.product((40, 400, 4_000, 12_000), (20, 200, 5_000), (5.0, 60.0, 300.0), (0.0, 0.03))), 4_000
)
EVENT_AGE_GRID = graded(
    list(itertools.product((400, 2_000, 12_000), (20, 200, 1_000), (60.0, 300.0), (600, 3_600, 21_600), (0.0, 0.03))),
    12_000,
)


def retries(failure_rate: float) -> int:
    return 2 if failure_rate else 0  # the stacks' maxRetryAttempts


@pytest.mark.parametrize(("shards", "concurrency", "shard_s", "failure_rate"), MAKESPAN_GRID)
def test_the_estimated_makespan_agrees_with_the_simulation(
    shards: int, concurrency: int, shard_s: float, failure_rate: float
) -> None:
    # GIVEN a run's shards, the stage's concurrency, a time per shard and a failure rate
    queue = Queue(shards, shard_s, concurrency, failure_rate, retries(failure_rate))
    # WHEN the simulation runs it with three seeds
    runs = [
        simulate(shards, shard_s, concurrency, seed=seed, failure_rate=failure_rate, retries=retries(failure_rate))
        for seed in SEEDS
    ]
    makespans = sorted(run.makespan_s for run in runs)
    median = statistics.median(makespans)
    # THEN the model expects invokes to expire exactly when the simulation drops them (Lambda keeps an
    # event at most 6 hours), and otherwise the estimate is within the stated tolerance
    assert (queue.expired(21_600) > 0) == any(run.expired for run in runs), (queue.expired(21_600), runs)
    if queue.expired(21_600):
        return
    # a failed attempt's retry comes back as a new event with a backoff of its own, which may find a
    # worker idle between the queue's due times: the model, which queues it with the rest, may be
    # late by one due period (300 s)
    slack = 0.15 * median + (THROTTLE_MAX_S if failure_rate else 0.0)
    within = abs(queue.makespan_s - median) <= slack or makespans[0] <= queue.makespan_s <= makespans[-1]
    assert within, (queue.makespan_s, makespans)
    busy = statistics.mean(run.busy_s for run in runs)
    assert queue.attempts * shard_s == pytest.approx(busy, rel=0.05)


@pytest.mark.parametrize(("shards", "concurrency", "shard_s", "max_age_s", "failure_rate"), EVENT_AGE_GRID)
def test_the_event_age_check_refuses_exactly_the_runs_whose_invokes_expire_in_the_simulation(
    shards: int, concurrency: int, shard_s: float, max_age_s: int, failure_rate: float
) -> None:
    # GIVEN a run and the worker's maximum event age
    queue = Queue(shards, shard_s, concurrency, failure_rate, retries(failure_rate))
    # WHEN the simulation drops invokes queued longer than the event age
    run = simulate(
        shards,
        shard_s,
        concurrency,
        seed=1,
        failure_rate=failure_rate,
        retries=retries(failure_rate),
        max_age_s=max_age_s,
    )
    # THEN the estimate expects expiries exactly when the simulation has them, about as many
    assert (queue.expired(max_age_s) > 0) == (run.expired > 0), (queue.expired(max_age_s), run.expired)
    assert abs(queue.expired(max_age_s) - run.expired) <= 0.06 * shards


def test_issue_11_dev_starts_240_of_2000_full_length_shards_in_an_hour() -> None:
    # GIVEN dev as the issue found it: 20 workers, 300 s shards, one hour of event age, no variation
    queue = Queue(2_000, 300.0, 20, spread=0.0)
    # THEN 12 waves start before 3,600 s (at 0, 511, 811, …, 3,511: a throttled queue is tried every
    # 300 s) and the rest expire; the simulation agrees exactly
    assert (queue.started_before(3_600), queue.expired(3_600)) == (240, 1_760)
    assert simulate(2_000, 300.0, 20, seed=0, jitter=0.0, max_age_s=3_600).expired == 1_760


def test_a_freed_worker_waits_for_the_queues_next_try_issue_22() -> None:
    # GIVEN 3,000 one-second shards and 3,000 workers allowed, no variation
    queue = Queue(3_000, 1.0, 3_000, spread=0.0)
    # THEN the first 1,000 start at once; the rest were throttled at 0 s and are tried again at 1 s
    # and 3 s (1 s, then 2 s later), when the first workers are free again — before Lambda's next
    # 1,000 environments (10 s) exist
    assert (queue.nth_start_s(1_000), queue.nth_start_s(1_001), queue.nth_start_s(3_000)) == (0.0, 1.0, 3.0)
    # and with 100 s shards the new environments start them at the queue's first tries after 10 s
    # and 20 s: 15 s and 31 s
    slow = Queue(3_000, 100.0, 3_000, spread=0.0)
    assert (slow.nth_start_s(1_001), slow.nth_start_s(3_000), slow.makespan_s) == (15.0, 31.0, 131.0)


def test_a_long_queue_of_short_shards_runs_a_wave_per_five_minutes_issue_22() -> None:
    # GIVEN 400 five-second shards on 20 workers: the old model said 100 s
    queue = Queue(400, 5.0, 20, spread=0.0)
    # THEN waves start at 0, 7, 15, 31, …, 511 s (each when the throttled queue is next tried after
    # the last ended) and every 300 s after: the last of 20 at 4,111 s
    assert queue.last_start_s == 4_111.0
    assert simulate(400, 5.0, 20, seed=0, jitter=0.0).last_start_s == 4_111.0


def test_the_simulation_without_jitter_gives_the_textbook_answer() -> None:
    # GIVEN 10 one-second shards on 3 workers, no variation
    run = simulate(10, 1.0, 3, seed=0, jitter=0.0)
    # THEN four waves, at 0, 1, 3 and 7 s (the queue's tries), every shard started and counted once
    assert (run.attempts, run.expired, run.makespan_s, run.busy_s) == (10, 0, 8.0, 10.0)
