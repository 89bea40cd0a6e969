"""Secret reads at fan-out: N cold workers each reading their secret once from Parameter Store at
its default throughput (40 GetParameters a second per account and region, excess answered
`ThrottlingException`), with the worker's client retrying as botocore's standard mode does (full
jitter, `rand × min(1 s × 2^i, 20 s)` for throttles, 8 attempts in all: `sweep_aws.clients`).

Workers arrive as Lambda scales the function: 1,000 environments at once, then 1,000 more every
10 s; each reads once its INIT (~0.3-1 s, spread) is done. Event by event, seeded, pure Python:
no AWS call is made. Measured: reads that fail (`SECRET_UNAVAILABLE`), and how long the reads that
succeed waited (time a shard's budget loses), for N = 1,000, 2,000 and 3,000.

    uv run python bench/secret_reads.py"""

from __future__ import annotations

import heapq
import json
import random
import statistics

TPS = 40.0
ATTEMPTS = 8
BASE_S, CAP_S = 1.0, 20.0
SCALE_STEP, SCALE_PERIOD_S = 1_000, 10.0


def simulate(workers: int, tps: float = TPS, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    reads: list[tuple[float, int, int]] = []  # (time, worker, attempt)
    arrived: dict[int, float] = {}
    for w in range(workers):
        t = (w // SCALE_STEP) * SCALE_PERIOD_S + rng.uniform(0.3, 1.0)
        arrived[w] = t
        heapq.heappush(reads, (t, w, 0))
    tokens, last = tps, 0.0
    failed, waits, calls, throttled = 0, [], 0, 0
    while reads:
        t, w, attempt = heapq.heappop(reads)
        tokens = min(tps, tokens + (t - last) * tps)
        last = t
        calls += 1
        if tokens >= 1:
            tokens -= 1
            waits.append(t - arrived[w])
            continue
        throttled += 1
        if attempt + 1 >= ATTEMPTS:
            failed += 1
            continue
        heapq.heappush(reads, (t + rng.random() * min(BASE_S * 2**attempt, CAP_S), w, attempt + 1))
    ordered = sorted(waits)
    return {
        "workers": workers,
        "failed": failed,
        "failed_pct": round(100 * failed / workers, 1),
        "calls": calls,
        "throttled": throttled,
        "wait_p50_s": round(statistics.median(ordered), 1) if ordered else 0.0,
        "wait_p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 1) if ordered else 0.0,
    }


if __name__ == "__main__":
    for n in (300, 1_000, 2_000, 3_000):
        runs = [simulate(n, seed=s) for s in range(3)]
        print(json.dumps({**runs[0], "failed_pct_3_seeds": [r["failed_pct"] for r in runs]}))
