"""boto3 clients with the timeouts and retry policy sweep relies on. Built once per cold start,
and always injectable: a client created before `moto.mock_aws` starts would not be mocked."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from sweep_aws.s3_parser import ListingParserFactory, install

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient

# Note: botocore's `max_attempts` counts retries (N means N+1 calls); `total_max_attempts` counts calls.
S3_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},  # 500/503/SlowDown are retried with backoff
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
)
SSM_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,  # short: when SSM is unreachable, fall back to defaults quickly
    read_timeout=3,
)

# The worker's experiment secrets, read once per cold start. Parameter Store's standard throughput is
# 40 GetParameter/s per account and region, and a fan-out starts up to 1,000 cold workers at once:
# a throttled read waits and tries again (jittered, 1 s base for throttling, doubling, at most 20 s)
# instead of failing the shard with SECRET_UNAVAILABLE. Eight attempts ride out a 300-worker burst
# at 40/s (tests/functional/test_ssm_fanout.py); higher throughput is the fix beyond that.
SSM_SECRETS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 8},
    connect_timeout=2,
    read_timeout=3,
)


def lambda_config(concurrency: int) -> Config:
    """One connection per dispatch thread; botocore does not retry, sweep's dispatcher does
    (it counts attempts per shard and records DISPATCH_FAILED when they run out)."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=max(10, concurrency),
    )


@functools.cache
def _loader() -> botocore.loaders.Loader:
    # one loader for every client's session: a session of its own would parse the S3 model again
    return botocore.loaders.create_loader()


def s3_client(**kwargs: Any) -> S3Client:
    # a session per client, as botocore sessions are not thread-safe and cache credentials; its
    # parser factory reads listings fast (s3_parser.py): status lists thousands of keys
    session = _session()
    session.register_component("response_parser_factory", ListingParserFactory())
    install(session)
    return boto3.Session(botocore_session=session).client("s3", config=S3_CONFIG, **kwargs)


def _session() -> botocore.session.Session:
    """A botocore session of its own that shares the process's one loader: a fresh session would
    parse botocore's endpoint, partition and service JSON again (0.2-0.5 s a client on 2 cores, paid
    by every CLI command that opens a stage and by each of the test suite's hundreds of moto stages)."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    return session


def ssm_client(**kwargs: Any) -> SSMClient:
    return boto3.Session(botocore_session=_session()).client("ssm", config=SSM_CONFIG, **kwargs)


def ssm_secrets_client(**kwargs: Any) -> SSMClient:
    return boto3.Session(botocore_session=_session()).client("ssm", config=SSM_SECRETS_CONFIG, **kwargs)


def lambda_client(concurrency: int, **kwargs: Any) -> LambdaClient:
    return boto3.Session(botocore_session=_session()).client("lambda", config=lambda_config(concurrency), **kwargs)
