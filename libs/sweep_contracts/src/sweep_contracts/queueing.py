"""When the shards of a run start and end on Lambda: one queue, `concurrency` workers, and Lambda's
scaling rate. The one model behind the run estimate and the event-age check.

Every attempt is queued at dispatch (time 0). Workers appear as Lambda scales the function: 1,000
execution environments at once, 1,000 more every 10 s, up to `concurrency`. A free worker takes the
next queued attempt; every attempt takes `shard_s`. Group `g` of (at most) 1,000 workers exists from
`10·g` s, and each of its workers starts attempts at `10·g`, `10·g + shard_s`, … — so the `k`-th
attempt starts at the `k`-th smallest of those times, and counting them needs one term per group
(at most 100 at the largest concurrency), never one per shard.

A failed attempt goes back to the queue after Lambda's retry delay: it counts as extra work, and
when a shard likely fails late enough that its retries outlast the queue, the run ends that chain
of retry delays and attempts after the first pass drains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sweep_contracts.prices import ASYNC_RETRY_DELAYS_S, SCALING_PERIOD_S, SCALING_STEP

EPSILON = 1e-9
"""Start times are multiples of the shard time: floating-point division must not move one across a wave."""
BISECTION_STEPS = 64
"""Halvings of the search interval: far below a millisecond for any run that fits the caps."""


@dataclass(frozen=True)
class Queue:
    """`shards` shards of `shard_s` seconds each through `concurrency` workers; each attempt fails
    with probability `failure_rate` and Lambda retries it up to `retries` times."""

    shards: int
    shard_s: float
    concurrency: int
    failure_rate: float = 0.0
    retries: int = 0

    @property
    def attempts(self) -> float:
        """Expected attempts: every shard once, a failed one again, up to `retries` more times."""
        return self.shards * sum(self.failure_rate**k for k in range(self.retries + 1))

    def _groups(self) -> list[tuple[float, int]]:
        """(from when, how many workers) per scaling step."""
        count = math.ceil(self.concurrency / SCALING_STEP)
        return [(g * SCALING_PERIOD_S, min(SCALING_STEP, self.concurrency - g * SCALING_STEP)) for g in range(count)]

    def started_before(self, t: float) -> float:
        """Attempts that have started strictly before `t` (Lambda drops an event at its maximum age)."""
        if self.shard_s <= 0:
            return self.attempts if t > 0 else 0.0
        started = sum(
            workers * math.ceil((t - since) / self.shard_s - EPSILON) for since, workers in self._groups() if t > since
        )
        return float(min(self.attempts, started))

    def nth_start_s(self, n: float) -> float:
        """When the `n`-th attempt (1-based, in queue order) starts: the earliest start time by which
        `n` attempts have started, found by bisection (one term per scaling group per step)."""
        if n <= 0 or self.shard_s <= 0:
            return 0.0
        groups = self._groups()
        low, high = 0.0, groups[-1][0] + math.ceil(n / groups[0][1]) * self.shard_s
        for _ in range(BISECTION_STEPS):
            middle = (low + high) / 2
            low, high = (low, middle) if self._started_by(middle) >= n else (middle, high)
        # `high` lies just past the start sought: the latest start time of any group not after it
        return max(
            since + math.floor((high - since) / self.shard_s + EPSILON) * self.shard_s
            for since, _ in groups
            if since <= high
        )

    def _started_by(self, t: float) -> int:
        """Attempts started at or before `t`."""
        return sum(
            workers * (math.floor((t - since) / self.shard_s + EPSILON) + 1)
            for since, workers in self._groups()
            if t >= since
        )

    @property
    def last_start_s(self) -> float:
        return self.nth_start_s(math.ceil(self.attempts))

    @property
    def makespan_s(self) -> float:
        """From dispatch until the last shard ends: the queue drains, then the retries of attempts that
        failed near the end, at each retry level where such a late failure is more likely than not."""
        end = self.last_start_s + self.shard_s
        first_pass = Queue(self.shards, self.shard_s, self.concurrency)
        drained = first_pass.last_start_s + self.shard_s
        chain = 0.0
        for level, delay in enumerate(ASYNC_RETRY_DELAYS_S[: self.retries], start=1):
            chain += delay + self.shard_s
            # shards failing `level` times in a row, whose chain of retries starts late enough to end last
            late_chains = self.shards * self.failure_rate**level * min(1.0, chain / drained) if drained else 0.0
            if late_chains >= math.log(2):  # Poisson: at least one such chain with probability ≥ 1/2
                end = max(end, drained + chain)
        return end

    def expired(self, max_age_s: float) -> int:
        """Shards whose queued attempts Lambda would drop unstarted at `max_age_s`."""
        late = self.attempts - self.started_before(max_age_s)
        return min(self.shards, math.ceil(late * self.shards / self.attempts - 1e-9)) if late > 0 else 0
