"""A discrete-event simulation of a run's shards on Lambda, written from AWS's documented rules to
check the estimate's model (`sweep_orchestrator.cost.queueing`) against. It shares no code with the model:
only the documented constants are read from the same places.

- Scaling: 1,000 execution environments at once, then 1,000 more every 10 s, up to the function's
  concurrency ("Lambda scaling behavior").
- The async queue: an internal poller reads events; an event read while the function has no free
  concurrency is throttled and returned to the queue, and "the retry interval increases
  exponentially from 1 second after the first attempt to a maximum of 5 minutes" ("Error handling
  and automatic retries in Lambda"). So an environment that frees up is not handed the next event:
  it stays idle until some queued event's retry comes due. `read_rate_per_s` is how fast the poller
  reads the queue at dispatch (AWS gives no figure; the default reads every event at once).
- Function errors: an attempt that fails is retried after about one minute, then two.
- Event age: an invoke still queued at the maximum event age (at most 6 hours, the default here) is
  dropped unstarted.

Shard times vary by ±`jitter`. Seeded and bounded; pure Python."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from sweep_contracts.prices import SCALING_PERIOD_S, SCALING_STEP

RETRY_DELAYS_S = (60.0, 120.0)
"""Lambda's backoff between attempts of a failed async invoke: about one minute, then two."""
THROTTLE_FIRST_S = 1.0
THROTTLE_MAX_S = 300.0
"""A throttled event's retry interval: from 1 s, doubling, at most 5 minutes."""


@dataclass(frozen=True)
class Outcome:
    makespan_s: float
    """From dispatch until the last started attempt ended."""
    last_start_s: float
    expired: int
    """Shards whose invoke Lambda dropped unstarted (or whose retry it dropped) at the maximum event age."""
    attempts: int
    busy_s: float
    """Worker-seconds used: what Lambda bills as duration."""
    throttles: int


def simulate(
    shards: int,
    shard_s: float,
    concurrency: int,
    *,
    seed: int,
    jitter: float = 0.1,
    failure_rate: float = 0.0,
    retries: int = 0,
    max_age_s: float = 21_600.0,
    read_rate_per_s: float = float("inf"),
) -> Outcome:
    rng = random.Random(seed)
    # (time, order, kind, shard, attempt, throttles): at one instant an "end" frees its environment
    # before a "try" looks for one
    events: list[tuple[float, int, str, int, int, int]] = []
    tie = 0

    def push(time: float, kind: str, shard: int, attempt: int = 0, throttles: int = 0) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (time, tie if kind == "try" else -tie, kind, shard, attempt, throttles))

    for shard in range(shards):
        push(shard / read_rate_per_s, "try", shard)
    busy = expired = attempts = throttled = 0
    end = last_start = busy_s = 0.0
    # each try of an event comes at least 1 s, and from 511 s on 300 s, after its last: an event is
    # tried at most ~10 + max_age/300 times per attempt before it starts or expires
    for _ in range(int(shards * (retries + 1) * (20 + max_age_s / THROTTLE_MAX_S) * 2) + 1_000):
        if not events:
            return Outcome(end, last_start, expired, attempts, busy_s, throttled)
        now, _, kind, shard, attempt, throttles = heapq.heappop(events)
        if kind != "try":
            busy, end = busy - 1, max(end, now)
            if kind == "fail" and attempt < retries:
                push(now + RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)], "try", shard, attempt + 1)
            continue
        if now >= max_age_s:  # every invoke was queued at 0: its age is `now`
            expired += 1
            continue
        environments = min(concurrency, SCALING_STEP * (1 + int(now // SCALING_PERIOD_S)))
        if busy >= environments:
            throttled += 1
            push(now + min(THROTTLE_MAX_S, THROTTLE_FIRST_S * 2**throttles), "try", shard, attempt, throttles + 1)
            continue
        duration = shard_s * rng.uniform(1 - jitter, 1 + jitter)
        busy, attempts, busy_s, last_start = busy + 1, attempts + 1, busy_s + duration, max(last_start, now)
        push(now + duration, "fail" if rng.random() < failure_rate else "end", shard, attempt)
    raise AssertionError("the simulation did not finish within its bound")
