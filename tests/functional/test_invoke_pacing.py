"""Dispatch against Lambda's invoke-rate limit (issue 22, item 4).

Lambda caps invocation requests at 10 × the account's concurrency quota per second and answers
the excess 429 `TooManyRequestsException` (AWS, Lambda quotas). The fake is that rule and nothing
of the dispatcher's (`tests/lambda_rate.py`). A dispatcher used to give up after ~1.5 s of backoff, so a new
account (quota 10–50) lost shards to DISPATCH_FAILED; now no shard is lost."""

from __future__ import annotations

from collections import Counter

import pytest

from sweep_orchestrator.lambda_dispatch import DispatchPolicy, LambdaDispatcher
from tests.helpers import tasks_for
from tests.lambda_rate import RateLimitedLambda


@pytest.mark.slow
@pytest.mark.parametrize("rate", [50, 200])
def test_dispatch_paced_to_the_invoke_rate_loses_no_shard(rate: int) -> None:
    # GIVEN an account that takes `rate` invokes a second, and a run of 6 seconds' worth of shards
    shards = rate * 6
    lam = RateLimitedLambda(rate)
    factory = tasks_for(
        {"experiment": "synthetic", "config": {"y": 0.0}, "grid": {"x": list(range(shards))}}, "pace", 1
    )
    policy = DispatchPolicy(concurrency=32, max_attempts=6, fanout_batch=10**6, budget_s=120)
    # WHEN one dispatcher sends them all from 32 threads
    report = LambdaDispatcher(lam, "worker").dispatch_shards(factory, [(k, 1) for k in range(shards)], policy)
    # THEN Lambda throttled it, yet every shard was accepted exactly once and none failed
    assert lam.throttled > 0
    assert report.failed == {}
    assert lam.accepted == Counter(range(shards))
    # AND the pacer kept the wasted calls low (without it, the threads' retries outnumber the shards)
    assert lam.throttled < shards
