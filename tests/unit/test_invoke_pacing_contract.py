"""Contract with botocore's adaptive retry mode, whose limiter `sweep_aws.pacing` feeds by hand
(issue 22, item 4): the classes and keyword arguments it uses, and that a throttle turns pacing on."""

from __future__ import annotations

import inspect

from botocore.retries import adaptive, bucket, throttling

from sweep_aws.pacing import InvokePacer


def test_botocore_still_has_the_limiter_pieces_pacing_uses() -> None:
    params = inspect.signature(adaptive.ClientRateLimiter.__init__).parameters
    assert {"rate_adjustor", "rate_clocker", "token_bucket", "throttling_detector", "clock"} <= set(params)
    assert {"starting_max_rate", "start_time"} <= set(inspect.signature(throttling.CubicCalculator).parameters)
    assert {"max_rate", "clock"} <= set(inspect.signature(bucket.TokenBucket).parameters)
    assert callable(adaptive.RateClocker(bucket.Clock()).record)


def test_a_throttle_turns_the_token_bucket_on_and_lowers_its_rate() -> None:
    pacer = InvokePacer()
    limiter = pacer._limiter
    for _ in range(50):
        pacer.before_send()
        pacer.after(throttled=False)
    assert limiter._enabled is False  # no throttle yet: nothing waits
    pacer.after(throttled=True)
    assert limiter._enabled is True
    assert limiter._token_bucket.max_rate < 50
