"""(k) Dispatch against Lambda's invoke-rate limit: 2,000 shards through the fan-out tree into a
fake Lambda that takes N invokes a second (a token bucket holding one second's worth, refilled at
N/s, shared by every dispatcher: Lambda's rule of 10 × the concurrency quota per second) and
answers the rest 429 `TooManyRequestsException`.

The tree runs as it does on a stage: the root invokes its lead shards and hands groups of the rest
to child dispatchers, each of which runs in its own thread (its own sandbox on Lambda), with its
own pacer, all at once. Measured: shards recorded DISPATCH_FAILED (target 0), throttled calls,
and the wall time against the least the rate allows (shards / N)."""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sweep_contracts.tasks import TaskFactory
from sweep_orchestrator.dispatch_task import DispatchTask
from sweep_orchestrator.lambda_dispatch import MARGIN_S, DispatchPolicy, LambdaDispatcher

sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.helpers import tasks_for
from tests.lambda_rate import RateLimitedLambda

WORKER, ORCHESTRATOR = "worker", "orchestrator"
CHILD_TIME_S = 60.0
"""A child dispatcher's Lambda time (the dev stage's orchestrator timeout)."""


def run(rate: int, shards: int = 2_000) -> dict[str, Any]:
    lam = RateLimitedLambda(rate, ORCHESTRATOR)
    factory = tasks_for(
        {"experiment": "synthetic", "config": {"y": 0.0}, "grid": {"x": list(range(shards))}}, "bench-k", 1
    )
    failed = 0
    lock = threading.Lock()

    def node(task_factory: TaskFactory, refs: list[tuple[int, int]], remaining_s: float | None) -> None:
        nonlocal failed
        policy = DispatchPolicy.from_settings({}, remaining_s)
        report = LambdaDispatcher(lam, WORKER, ORCHESTRATOR).dispatch_shards(task_factory, refs, policy)
        with lock:
            failed += len(report.failed)

    started = time.monotonic()
    node(factory, [(k, 1) for k in range(shards)], None)  # POST /runs: the API's budget
    seen = 0
    with ThreadPoolExecutor(max_workers=64) as sandboxes:
        futures = []
        while seen < len(lam.children) or any(not f.done() for f in futures):
            while seen < len(lam.children):
                task = DispatchTask.model_validate(json.loads(lam.children[seen]))
                futures.append(sandboxes.submit(node, task.factory(), task.refs(), CHILD_TIME_S))
                seen += 1
            time.sleep(0.01)
        for f in futures:
            f.result()
    wall = time.monotonic() - started
    return {
        "shards": shards,
        "dispatch_failed": failed,
        "accepted": sum(lam.accepted.values()),
        "throttled_calls": lam.throttled,
        "wall_s": round(wall, 1),
        "least_s": round(shards / rate, 1),
        "over_least": round(wall / (shards / rate), 2),
        "child_budget_s": CHILD_TIME_S - MARGIN_S,
    }


if __name__ == "__main__":
    for r in (100, 500):
        print(json.dumps({"rate_per_s": r, **run(r)}))
