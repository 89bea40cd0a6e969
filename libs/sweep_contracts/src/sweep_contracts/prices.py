"""AWS list prices and service limits the run estimate uses (`sweep_orchestrator.cost.estimate`).

Prices are us-east-1 on-demand list prices in nano-dollars (1e-9 USD) per unit, so that a stage can
override each one with an integer setting of the same name (`price_*_nusd`). Read on 2026-11-22 from:

- Lambda, arm64 duration $0.0000133334 per GB-second (first 7.5 billion GB-s a month), requests
  $0.20 per million: https://aws.amazon.com/lambda/pricing/
- S3 Standard PUT, COPY, POST, LIST $0.005 per 1,000 requests: https://aws.amazon.com/s3/pricing/
- Lambda INIT (read on 2026-12-07): since 2025-08-01 the INIT phase of on-demand ZIP functions on managed runtimes is
  billed as duration, at the same rate:
  https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/
- Athena SQL $5.00 per TB scanned, rounded up to 10 MB per query: https://aws.amazon.com/athena/pricing/
- Systems Manager Parameter Store, higher throughput: $0.05 per 10,000 API interactions (standard
  throughput is free): https://aws.amazon.com/systems-manager/pricing/

Free tiers, Savings Plans, the orchestrator's own duration, GETs, storage and log ingestion are left
out: they are small next to the workers' duration for any run worth estimating.
"""

from __future__ import annotations

LAMBDA_ARM_GB_S_NUSD = 13_333
"""$0.0000133334 per GB-second (arm64, the worker's architecture), to the nano-dollar."""
LAMBDA_REQUEST_NUSD = 200
"""$0.20 per million invocations."""
S3_PUT_NUSD = 5_000
"""$0.005 per 1,000 PUTs (S3 Standard); LISTs are billed at the same tier."""
ATHENA_GB_NUSD = 5_000_000
"""$5.00 per TB (10^12 bytes) scanned = $0.005 per GB (10^9 bytes)."""
SSM_HIGH_THROUGHPUT_NUSD = 5_000
"""$0.05 per 10,000 Parameter Store API interactions, once the account's higher throughput is on."""
SSM_STANDARD_TPS = 40
"""Parameter Store's default throughput per account and region, shared by GetParameter, GetParameters
and GetParametersByPath (https://docs.aws.amazon.com/general/latest/gr/ssm.html)."""
ATHENA_MIN_BYTES = 10_000_000
"""Athena bills at least 10 MB per query."""

SCALING_STEP = 1_000
"""Lambda adds at most this many execution environments to one function ..."""
SCALING_PERIOD_S = 10.0
"""... every this many seconds (https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html)."""
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)
"""Lambda waits about one minute before its first retry of a failed async invoke, two before the second
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""

THROTTLE_FIRST_S = 1.0
THROTTLE_MAX_S = 300.0
"""An async event that finds no free concurrency is throttled and returned to Lambda's queue: "the retry
interval increases exponentially from 1 second after the first attempt to a maximum of 5 minutes"
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""

POINT_BYTES = 400
"""Parquet bytes per point that the summary query reads: whole `points/` files measured with
`sweep run` came to 35 bytes a point in 500-point shards of `synthetic` and 660 in 10-point shards of
examples/maze.yaml (file footers dominate small files). A planning figure between the two; at
Athena's 10 MB minimum it matters only above 25,000 points, and then by fractions of a cent."""

WORKER_INIT_S = 0.3
"""Seconds of billed INIT per cold worker: `import sweep_worker.handler` took 294 ms in bench/RESULTS.md
(f) (2026-11-22, this project's own artifact, bytecode included). A lower bound: Lambda's own runtime start
and the code download come on top, and the first shard's pyarrow import is billed as that shard's duration."""

S3_PREFIX_WRITES_PER_S = 3_500
S3_PREFIX_READS_PER_S = 5_500
"""S3 serves at least 3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD requests a second per partitioned
prefix, and answers 503 SlowDown above that while it splits the partition, which takes minutes of
sustained load (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html).
A run's keys lie under `started/`, `points/` and `outcomes/` with its run id: a bucket quiet before
the run may serve them all from one partition."""
