"""The run estimate's queueing model (`sweep_contracts.queueing`) against a discrete-event simulation
of Lambda (`tests/lambda_sim.py`): queueing, the concurrency limit, the scaling rate (1,000 new
environments per 10 s), shard times that vary ±10 %, failed attempts retried after Lambda's backoff,
and queued invokes dropped at the maximum event age (issue 11, cost and time).

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

from sweep_contracts.queueing import Queue
from tests.lambda_sim import simulate

SEEDS = (0, 1, 2)
MAKESPAN_GRID = list(itertools.product((40, 400, 4_000, 12_000), (20, 200, 5_000), (5.0, 60.0, 300.0), (0.0, 0.03)))
EVENT_AGE_GRID = list(
    itertools.product((400, 2_000, 12_000), (20, 200, 1_000), (60.0, 300.0), (600, 3_600, 21_600), (0.0, 0.03))
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
    # THEN the estimate is within the stated tolerance
    within = abs(queue.makespan_s - median) <= 0.15 * median or makespans[0] <= queue.makespan_s <= makespans[-1]
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
    # GIVEN dev as the issue found it: 20 workers, 300 s shards, one hour of event age
    queue = Queue(2_000, 300.0, 20)
    # THEN 12 waves start before 3,600 s and the rest expire; the simulation agrees exactly
    assert (queue.started_before(3_600), queue.expired(3_600)) == (240, 1_760)
    assert simulate(2_000, 300.0, 20, seed=0, jitter=0.0, max_age_s=3_600).expired == 1_760


def test_lambda_scaling_rate_delays_the_second_thousand_workers_by_10_seconds() -> None:
    # GIVEN 3,000 one-second shards and 3,000 workers allowed
    queue = Queue(3_000, 1.0, 3_000)
    # THEN the first 1,000 start at once, and each later thousand starts on a freed worker after 1 s,
    # before Lambda's next 1,000 environments (10 s) would exist
    assert (queue.nth_start_s(1_000), queue.nth_start_s(1_001), queue.nth_start_s(3_000)) == (0.0, 1.0, 2.0)
    # and with 100 s shards the new environments are what starts them: at 10 s and 20 s
    slow = Queue(3_000, 100.0, 3_000)
    assert (slow.nth_start_s(1_001), slow.nth_start_s(3_000), slow.makespan_s) == (10.0, 20.0, 120.0)


def test_the_simulation_without_jitter_gives_the_textbook_answer() -> None:
    # GIVEN 10 one-second shards on 3 workers, no variation
    run = simulate(10, 1.0, 3, seed=0, jitter=0.0)
    # THEN four waves, every shard started and counted once
    assert (run.attempts, run.expired, run.makespan_s, run.busy_s) == (10, 0, 4.0, 10.0)
