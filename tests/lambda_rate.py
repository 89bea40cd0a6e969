"""Lambda's invoke-rate limit, as AWS states it and nothing of the dispatcher's: invocation requests
are capped at 10 × the account's concurrency quota per second, the excess answered 429
`TooManyRequestsException`. Modelled as a token bucket holding one second's worth, refilled at the
rate, shared by every caller (every dispatcher of a run)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from sweep_aws.invoke import InvokeResult


class RateLimitedLambda:
    """Accepts an invoke when a token is left, else answers 429 as Lambda does. Worker invokes are
    counted per shard; invokes of `dispatcher` (a child of the fan-out tree) are kept to run."""

    def __init__(self, rate_per_s: float, dispatcher: str | None = None) -> None:
        self.rate, self.tokens, self.last = rate_per_s, rate_per_s, time.monotonic()
        self.dispatcher = dispatcher
        self.lock = threading.Lock()
        self.accepted = Counter[int]()
        self.children: list[bytes] = []
        self.throttled = 0

    def invoke_async(self, function: str, payload: bytes) -> InvokeResult:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1:
                self.throttled += 1
                return InvokeResult(False, 429, "TooManyRequestsException", "Rate Exceeded.")
            self.tokens -= 1
            if function == self.dispatcher:
                self.children.append(payload)
            else:
                self.accepted[json.loads(payload)["shard_id"]] += 1
            return InvokeResult(True)
