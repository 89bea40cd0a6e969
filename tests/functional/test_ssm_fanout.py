"""Parameter Store at fan-out: 300 cold workers start at 100 a second, each reads its experiment's
secret once, and SSM answers `ThrottlingException` above 40 GetParameter calls a second (its
standard throughput per account and region), under moto. Every worker must still get its secret."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto import mock_aws

from sweep_aws.clients import ssm_client, ssm_secrets_client
from sweep_aws.ssm import SsmSecrets
from sweep_contracts.errors import SecretUnavailableError
from sweep_worker.handler import ssm_secrets
from tests.cloud import json_error

PREFIX = "/sweep/dev/"
TPS = 40  # Parameter Store standard throughput
COLD_STARTS, STARTS_PER_S = 300, 100  # Lambda adds up to ~100 new workers per second to a fan-out


@dataclass
class TokenBucket:
    """SSM's throughput limit as a botocore `before-send` hook: a call without a token is throttled."""

    rate: float
    capacity: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)
    calls: int = 0
    throttled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens, self.at = self.capacity, self.clock()

    def before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            self.calls += 1
            if self.tokens >= 1:
                self.tokens -= 1
                return None  # moto answers
            self.throttled += 1
        return json_error(400, "ThrottlingException", "Rate exceeded")


@pytest.fixture
def ssm(aws_env: None) -> Iterator[TokenBucket]:
    with mock_aws():
        boto3.client("ssm").put_parameter(Name=f"{PREFIX}secrets/api_key", Value="s3cr3t", Type="SecureString")
        yield TokenBucket(rate=TPS, capacity=TPS)


@pytest.mark.slow
def test_a_burst_of_cold_workers_all_get_their_secret_through_throttling(ssm: TokenBucket) -> None:
    # GIVEN 300 cold workers, each with the fresh client the worker's handler builds
    # (built beforehand: creating a client costs CPU, not Parameter Store throughput)
    clients = [ssm_secrets_client() for _ in range(COLD_STARTS)]
    for client in clients:
        client.meta.events.register("before-send.ssm.GetParameters", ssm.before_send)
    workers: list[SsmSecrets] = []
    start = time.monotonic()

    def cold_start(i: int) -> str:
        time.sleep(max(0.0, start + i / STARTS_PER_S - time.monotonic()))  # 100 new workers a second
        secrets = ssm_secrets(PREFIX, clients[i])
        workers.append(secrets)
        return secrets(["api_key"])["api_key"]

    # WHEN they start over 3 s and each reads its secret (SSM allows 40 reads a second)
    with ThreadPoolExecutor(max_workers=COLD_STARTS) as pool:
        values = list(pool.map(cold_start, range(COLD_STARTS)))
    elapsed = time.monotonic() - start
    # THEN every worker got the secret, though SSM throttled many reads on the way
    assert values == ["s3cr3t"] * COLD_STARTS
    assert ssm.throttled > 0
    assert ssm.calls - ssm.throttled == COLD_STARTS  # one successful read per cold start
    # and no faster than 40/s allows: 300 reads need at least (300 - 40) / 40 = 6.5 s
    assert elapsed >= (COLD_STARTS - TPS) / TPS
    print(f"\n{COLD_STARTS} cold starts: {ssm.calls} GetParameters calls, {ssm.throttled} throttled, {elapsed:.1f} s")

    # WHEN the same workers run their next shard (warm) THEN the cache answers: no SSM call
    calls = ssm.calls
    assert all(worker(["api_key"]) == {"api_key": "s3cr3t"} for worker in workers)
    assert ssm.calls == calls


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry pauses, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


def throttle_first(n: int) -> Callable[..., AWSResponse | None]:
    calls = [0]

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        calls[0] += 1
        return json_error(400, "ThrottlingException", "Rate exceeded") if calls[0] <= n else None

    return before_send


def test_a_cold_worker_throttled_five_times_in_a_row_still_gets_its_secret(
    ssm: TokenBucket, pauses: list[float]
) -> None:
    # GIVEN SSM throttles a cold worker's first five reads (the tail of a burst)
    client = ssm_secrets_client()
    client.meta.events.register("before-send.ssm.GetParameters", throttle_first(5))
    # WHEN it reads its secret THEN it gets it, after five jittered pauses that double from 1 s
    assert ssm_secrets(PREFIX, client)(["api_key"]) == {"api_key": "s3cr3t"}
    assert len(pauses) == 5
    assert all(0 <= pause <= 2**i for i, pause in enumerate(pauses))


def test_the_settings_client_would_have_failed_the_shard(ssm: TokenBucket, pauses: list[float]) -> None:
    # GIVEN the same throttling, read with the settings client (3 attempts: it falls back to defaults fast)
    client = ssm_client()
    client.meta.events.register("before-send.ssm.GetParameters", throttle_first(5))
    # THEN a secret read that way is unavailable: why the worker's secrets have their own client
    with pytest.raises(SecretUnavailableError, match="could not be read"):
        ssm_secrets(PREFIX, client)(["api_key"])
    assert len(pauses) == 2
