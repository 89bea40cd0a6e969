"""When the shards of a run start and end on Lambda: one queue, `concurrency` workers, Lambda's
scaling rate and its throttling of queued events. The one model behind the run estimate, the
event-age check and the deadline after which status calls a shard lost.

Every attempt is queued at dispatch (time 0). Workers appear as Lambda scales the function: 1,000
execution environments at once, 1,000 more every 10 s, up to `concurrency` (group `g` of at most
1,000 workers exists from `10·g` s). What the first workers cannot take, Lambda throttles: each
such event goes back to the queue and is tried again after 1 s, then 2, 4, … up to 5 minutes. The
events queued at dispatch were all throttled together, so they come due together: at 0, 1, 3, 7,
…, 255, 511 s, then every 300 s (`due_at`). A worker that finishes is not handed the next event at
once; it takes one when the queue's next try comes due. So each worker starts attempts at its
group's first due time, then at the first due time after each attempt ends — once past 511 s,
every `300·⌈shard_s/300⌉` s, a wave splitting where its shards' times (±`spread`) straddle a due
time. A long queue of short shards runs one wave per 5 minutes, whatever
the shards' length: tests/lambda_sim.py simulates the documented rules event by event, and this
model agrees with it (tests/unit/test_queue_model.py).

A failed attempt goes back to the queue after Lambda's retry delay: it counts as extra work, and
when a shard likely fails late enough that its retries outlast the queue, the run ends that chain
of retry delays and attempts after the first pass drains.
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import dataclass

from sweep_contracts.prices import (
    ASYNC_RETRY_DELAYS_S,
    SCALING_PERIOD_S,
    SCALING_STEP,
    THROTTLE_FIRST_S,
    THROTTLE_MAX_S,
)

SHARD_SPREAD = 0.1
"""How much a shard's time varies around `shard_s` (±10 %): a worker is picked up again at the first
due time after its shard ends, so a wave whose shards end on both sides of a due time splits."""
EPSILON = 1e-9
"""Start times are sums of shard times and due times: floating-point error must not move one across a due time."""
_DOUBLINGS = math.ceil(math.log2(THROTTLE_MAX_S / THROTTLE_FIRST_S))
PERIODIC_FROM_S = THROTTLE_FIRST_S * (2**_DOUBLINGS - 1)
"""511 s: the first due time after which the queue's tries come every `THROTTLE_MAX_S`."""
_PREFIX = [THROTTLE_FIRST_S * (2**k - 1) for k in range(_DOUBLINGS + 1)]  # 0, 1, 3, …, 511


def due_at(t: float) -> float:
    """The first time at or after `t` when the events queued (and throttled) at dispatch are tried."""
    if t <= PERIODIC_FROM_S + EPSILON:
        return float(next(d for d in _PREFIX if d + EPSILON >= t))
    return float(PERIODIC_FROM_S + THROTTLE_MAX_S * math.ceil((t - PERIODIC_FROM_S) / THROTTLE_MAX_S - EPSILON))


SPREAD_POINTS = (-0.75, -0.25, 0.25, 0.75)
"""A shard's time as four equally likely values across ±`spread` (the quartiles' midpoints)."""
HORIZON_S = 30 * 86_400.0
"""The model follows the queue this far (Lambda keeps an event at most 6 hours; estimates of runs
that would outlast that still say by how much)."""


@dataclass(frozen=True)
class Queue:
    """`shards` shards of `shard_s` seconds each through `concurrency` workers; each attempt fails
    with probability `failure_rate` and Lambda retries it up to `retries` times. Shard times vary by
    ±`spread` around `shard_s`."""

    shards: int
    shard_s: float
    concurrency: int
    failure_rate: float = 0.0
    retries: int = 0
    spread: float = SHARD_SPREAD

    @property
    def attempts(self) -> float:
        """Expected attempts: every shard once, a failed one again, up to `retries` more times."""
        return self.shards * sum(self.failure_rate**k for k in range(self.retries + 1))

    @functools.cached_property
    def _starts(self) -> list[tuple[float, float]]:
        """(start time, attempts expected to start then), in time order, while the queue lasts.

        A wave is the workers that start at the same time, first each scaling group at its first
        due time; each of its workers finishes after one of `SPREAD_POINTS`' shard times and takes
        the queue's next due time after that, so a wave may split over two due times. A fast worker
        takes more than its share of the queue: the waves are followed until the attempts started
        before the next wave's earliest start cover the queue (a wave adds only at or after its
        earliest start, so what lies before it is final: a heap adds it up once)."""
        wave: dict[float, float] = {}
        for g in range(math.ceil(self.concurrency / SCALING_STEP)):
            first = 0.0 if g == 0 else due_at(g * SCALING_PERIOD_S)
            wave[first] = wave.get(first, 0.0) + min(SCALING_STEP, self.concurrency - g * SCALING_STEP)
        starts: dict[float, float] = {}
        pending: list[float] = []
        covered = 0.0
        while wave:
            earliest = min(wave)
            while pending and pending[0] < earliest:
                covered += starts[heapq.heappop(pending)]
            if covered >= self.attempts:
                break
            following: dict[float, float] = {}
            for t, count in wave.items():
                if t not in starts:
                    heapq.heappush(pending, t)
                starts[t] = starts.get(t, 0.0) + count
                for point in SPREAD_POINTS:
                    due = due_at(t + self.shard_s * (1 + self.spread * point))
                    if due <= HORIZON_S:
                        following[due] = following.get(due, 0.0) + count / len(SPREAD_POINTS)
            wave = following
        return sorted(starts.items())

    def started_before(self, t: float) -> float:
        """Attempts that have started strictly before `t` (Lambda drops an event at its maximum age)."""
        if self.shard_s <= 0:
            return self.attempts if t > 0 else 0.0
        return min(self.attempts, sum(count for start, count in self._starts if start < t - EPSILON))

    def nth_start_s(self, n: float) -> float:
        """When the `n`-th attempt (1-based, in queue order) starts: the first start time by which `n`
        attempts are expected to have started (`HORIZON_S` if none is within it)."""
        if n <= 0 or self.shard_s <= 0:
            return 0.0
        started = 0.0
        for start, count in self._starts:
            started += count
            if started + 1e-6 >= n:
                return start
        return HORIZON_S

    @property
    def last_start_s(self) -> float:
        return self.nth_start_s(math.ceil(self.attempts))

    @property
    def makespan_s(self) -> float:
        """From dispatch until the last shard ends: the queue drains, then the retries of attempts that
        failed near the end, at each retry level where such a late failure is more likely than not."""
        end = self.last_start_s + self.shard_s
        first_pass = Queue(self.shards, self.shard_s, self.concurrency, spread=self.spread)
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
