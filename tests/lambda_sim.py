"""A small discrete-event simulation of a run's shards on Lambda, to check the estimate's model
(`sweep_contracts.queueing`) against: one FIFO queue of async invokes, a concurrency limit, Lambda's
scaling rate, shard times that vary, failed attempts retried after Lambda's backoff, and queued
invokes dropped at the maximum event age. Seeded and bounded; pure Python.

It shares no code with the estimate: only the documented constants (the scaling rate, the retry
delays) are read from the same places AWS documents them.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass

from sweep_contracts.prices import SCALING_PERIOD_S, SCALING_STEP

RETRY_DELAYS_S = (60.0, 120.0)
"""Lambda's backoff between attempts of a failed async invoke: about one minute, then two."""


@dataclass(frozen=True)
class Outcome:
    makespan_s: float
    """From dispatch until the last started attempt ended."""
    expired: int
    """Shards whose invoke Lambda dropped unstarted (or whose retry it dropped) at the maximum event age."""
    attempts: int
    busy_s: float
    """Worker-seconds used: what Lambda bills as duration."""


def simulate(
    shards: int,
    shard_s: float,
    concurrency: int,
    *,
    seed: int,
    jitter: float = 0.1,
    failure_rate: float = 0.0,
    retries: int = 0,
    max_age_s: float = float("inf"),
) -> Outcome:
    rng = random.Random(seed)
    queue: deque[tuple[int, int]] = deque((shard, 0) for shard in range(shards))  # (shard, attempt), queued at 0
    events: list[tuple[float, int, str, int, int]] = []  # (time, tie, kind, shard, attempt)
    tie = 0

    def push(time: float, kind: str, shard: int, attempt: int) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (time, tie, kind, shard, attempt))

    for step in range(1, -(-concurrency // SCALING_STEP)):
        push(step * SCALING_PERIOD_S, "scale", -1, -1)
    now, busy, end, expired, attempts, busy_s = 0.0, 0, 0.0, 0, 0, 0.0
    environments = min(concurrency, SCALING_STEP)
    for _ in range(4 * shards * (retries + 1) + 1_000):  # every shard is queued, started, ended at most retries+1 times
        while queue and busy < environments:
            shard, attempt = queue.popleft()
            if now >= max_age_s:  # every invoke was queued at 0: its age is `now`
                expired += 1
                continue
            duration = shard_s * rng.uniform(1 - jitter, 1 + jitter)
            failed = rng.random() < failure_rate
            busy, attempts, busy_s = busy + 1, attempts + 1, busy_s + duration
            push(now + duration, "fail" if failed else "end", shard, attempt)
        if not events:
            return Outcome(makespan_s=end, expired=expired, attempts=attempts, busy_s=busy_s)
        now, _, kind, shard, attempt = heapq.heappop(events)
        if kind == "scale":
            environments = min(concurrency, environments + SCALING_STEP)
        elif kind == "retry":
            queue.append((shard, attempt))
        else:
            busy, end = busy - 1, max(end, now)
            if kind == "fail" and attempt < retries:
                push(now + RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)], "retry", shard, attempt + 1)
    raise AssertionError("the simulation did not finish within its bound")
