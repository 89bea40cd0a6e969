"""Client-side pacing of Lambda `Invoke` calls when Lambda throttles them.

Lambda caps invocation requests at 10 × the account's concurrency quota per second; on a new
account (quota 10–50) that is 100–500 invokes a second, while one dispatcher sends ~1,300. A
throttled invoke is answered 429 `TooManyRequestsException`. botocore's `adaptive` retry mode
answers exactly that problem for one client: a token bucket whose rate follows CUBIC congestion
control, lowered on every throttle and raised again as calls pass. The dispatcher sends its
invokes through its own signed HTTP path (`sweep_aws.invoke`), not through a botocore client, so
it feeds that same limiter by hand (`InvokePacer`) instead of writing another one.
`tests/unit/test_invoke_pacing.py` holds the contract: the botocore classes and the arguments
used here."""

from __future__ import annotations

from typing import Any

from botocore.retries import adaptive, bucket, throttling


class _Verdict:
    """botocore's limiter asks a detector whether a response was a throttle; here we already know."""

    def is_throttling_error(self, **kwargs: Any) -> bool:
        return bool(kwargs.get("throttled"))


class InvokePacer:
    """Shared by the threads of one dispatch: `before_send()` waits for a token once a throttle has
    been seen (no wait before that), `after(throttled)` tells the limiter how the call went."""

    def __init__(self, clock: Any = None) -> None:
        clock = clock or bucket.Clock()
        self._limiter = adaptive.ClientRateLimiter(
            rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=clock.current_time()),
            rate_clocker=adaptive.RateClocker(clock),
            token_bucket=bucket.TokenBucket(max_rate=1, clock=clock),
            throttling_detector=_Verdict(),
            clock=clock,
        )

    def before_send(self) -> None:
        self._limiter.on_sending_request(request=None)

    def after(self, *, throttled: bool) -> None:
        self._limiter.on_receiving_response(throttled=throttled)
