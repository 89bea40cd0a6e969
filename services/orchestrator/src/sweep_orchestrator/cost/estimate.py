"""What a run will cost and how long it will take on a stage, before anything runs — and whether
the stage lets it run: its cost cap (`max_run_cost_usd`) and the worker's maximum event age.

One estimate, used by `sweep plan --stage`, by submit (the 202 answer carries it) and by the event-age
check. The time per point is the request's `expected_point_s` (given, or measured by `sweep plan
--sample`); without one every shard is assumed to run until the worker's timeout, an upper bound.
The queueing is `sweep_orchestrator.cost.queueing`; the prices are `sweep_contracts.prices`, overridable
by the stage's `price_*_nusd` settings. Shards under `TINY_SHARD_S` that queue past the workers or
pass S3's per-prefix request rates are warned about (`tiny_shard_message`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from sweep_contracts import prices
from sweep_contracts.base import Frozen
from sweep_contracts.errors import LimitExceededError
from sweep_contracts.planning import ShardPlan
from sweep_contracts.settings import SystemSettings
from sweep_orchestrator.cost.queueing import Queue

NANO = 1e-9
PUTS_PER_SHARD = 3
"""A shard's started marker (per execution), its points file and its outcome."""
PUTS_PER_RUN = 2
"""The manifest and the dispatch record."""
LISTS_PER_SHARD = 2
"""A shard execution lists its started markers (`sweep_worker.started.mark_started`) and, once its success
stands, its points files (`sweep_contracts.outcomes.finish_cleanup`)."""
LISTS_PER_STATUS_BLOCK = 2
"""A status read lists the outcomes and the points, one request each per 1,000 shards (`sweep_orchestrator.listing`)."""
STATUS_BLOCK = 1_000
STATUS_POLL_S = 3.0
"""`sweep submit --watch` reads the run's status every 3 s until it ends (`sweep_cli.stage.backend.POLL_S`)."""
WRITES_PER_SHARD = PUTS_PER_SHARD + 2
"""S3's write class (PUT, DELETE): the PUTs and the deletes of the started marker and of a stale failure."""
READS_PER_SHARD = LISTS_PER_SHARD + 1
"""S3's read class (GET, LIST): the LISTs and the read of a standing success (a duplicate's check)."""
TINY_SHARD_S = 5.0
"""Below this a shard's invoke, INIT, S3 requests and wait for the throttled queue's next try weigh against its
points: such shards are warned about when they queue past the workers or pass S3's per-prefix rates."""


class CostItem(Frozen):
    """One line of the bill: how many units, at what price, for how much."""

    units: float
    unit: str
    usd: float


class RunEstimate(Frozen):
    """A run's expected Lambda cost and makespan on a stage, and the numbers they come from."""

    shards: int
    points: int
    shard_s: float = Field(description="Expected seconds per shard.")
    shard_s_source: Literal["expected_point_s", "worker_timeout_s"] = Field(
        description="`expected_point_s`: the request's time per point × points per shard (capped at the worker's "
        "timeout); `worker_timeout_s`: no time per point was given, every shard is assumed to run until the timeout."
    )
    concurrency: int
    memory_mb: int
    makespan_s: float = Field(description="From dispatch until the last shard ends (queueing and Lambda's scaling).")
    last_start_s: float = Field(description="When the last shard starts: checked against the maximum event age.")
    max_event_age_s: int
    expired_shards: int = Field(description="Shards whose queued invokes would expire unstarted (EVENT_EXPIRED).")
    unbounded_shard_s: float | None = Field(
        default=None,
        description="The shard time `expected_point_s` gives when it is over the worker's timeout (`shard_s` is then "
        "the timeout): such shards stop with TIME_BUDGET before their last points.",
    )
    cost_usd: float
    cost: dict[str, CostItem] = Field(
        description="`lambda_duration`, `lambda_requests`, `s3_puts`, `athena_summary`, `s3_lists`, `lambda_init`."
    )

    @property
    def upper_bound(self) -> bool:
        return self.shard_s_source == "worker_timeout_s"

    def source_text(self) -> str:
        if self.upper_bound:
            return "the worker's timeout `worker_timeout_s`: no `expected_point_s` given, an upper bound"
        return "`expected_point_s` × points per shard"

    def queue_text(self) -> str:
        return (
            f"{self.shards:,} shards × {self.shard_s:,.3g} s per shard ({self.source_text()}) through "
            f"{self.concurrency:,} concurrent workers (`worker_concurrency`)"
        )


def estimate_run(plan: ShardPlan, settings: SystemSettings, expected_point_s: float | None) -> RunEstimate:
    timeout = float(settings.worker_timeout_s)
    unbounded: float | None = None
    if expected_point_s is None:
        shard_s, source = timeout, "worker_timeout_s"
    else:
        # the average shard: the total work is then exact, whatever the last shard's size
        wanted = expected_point_s * plan.points_total / plan.shard_count
        shard_s, source = min(timeout, wanted), "expected_point_s"
        unbounded = wanted if wanted > timeout else None
    queue = Queue(plan.shard_count, shard_s, settings.worker_concurrency)
    cost = bill(plan, settings, queue)
    return RunEstimate(
        shards=plan.shard_count,
        points=plan.points_total,
        shard_s=shard_s,
        shard_s_source=source,
        concurrency=settings.worker_concurrency,
        memory_mb=settings.worker_memory_mb,
        makespan_s=queue.makespan_s,
        last_start_s=queue.last_start_s,
        max_event_age_s=settings.max_event_age_s,
        expired_shards=queue.expired(settings.max_event_age_s),
        unbounded_shard_s=unbounded,
        cost_usd=sum(item.usd for item in cost.values()),
        cost=cost,
    )


def bill(plan: ShardPlan, settings: SystemSettings, queue: Queue) -> dict[str, CostItem]:
    attempts = queue.attempts
    gb_s = attempts * queue.shard_s * settings.worker_memory_mb / 1024  # Lambda's GB is 1,024 MB
    fanouts = (
        math.ceil(plan.shard_count / settings.fanout_batch_size) if plan.shard_count > settings.fanout_batch_size else 0
    )
    requests = attempts + 1 + fanouts
    puts = attempts * PUTS_PER_SHARD + PUTS_PER_RUN
    scanned = max(prices.ATHENA_MIN_BYTES, plan.points_total * prices.POINT_BYTES)
    return {
        "lambda_duration": CostItem(units=gb_s, unit="GB-s", usd=gb_s * settings.price_lambda_gb_s_nusd * NANO),
        "lambda_requests": CostItem(
            units=requests, unit="invocations", usd=requests * settings.price_lambda_request_nusd * NANO
        ),
        "s3_puts": CostItem(units=puts, unit="PUTs", usd=puts * settings.price_s3_put_nusd * NANO),
        "athena_summary": CostItem(
            units=scanned, unit="bytes", usd=scanned / 1e9 * settings.price_athena_gb_nusd * NANO
        ),
        **listing_and_init(plan, settings, queue),
    }


def status_reads(makespan_s: float) -> int:
    """The status reads of a run followed with `--watch`: one at submit, then one every poll until it ends."""
    return 1 + math.ceil(makespan_s / STATUS_POLL_S)


def cold_starts(queue: Queue) -> int:
    """Each execution environment Lambda creates starts cold once, and a run has at most as many at once
    as it has workers. Lambda reclaims idle environments after a time it does not publish, so waves
    300 s apart may start some again: a lower bound."""
    return min(math.ceil(queue.attempts), queue.concurrency)


def listing_and_init(plan: ShardPlan, settings: SystemSettings, queue: Queue) -> dict[str, CostItem]:
    """The S3 LISTs of the workers and of `--watch` (billed at the PUT tier), and the INIT billed per cold start."""
    blocks = max(1, math.ceil(plan.shard_count / STATUS_BLOCK))
    lists = queue.attempts * LISTS_PER_SHARD + status_reads(queue.makespan_s) * LISTS_PER_STATUS_BLOCK * blocks
    init_gb_s = cold_starts(queue) * prices.WORKER_INIT_S * settings.worker_memory_mb / 1024
    return {
        "s3_lists": CostItem(units=lists, unit="LISTs", usd=lists * settings.price_s3_put_nusd * NANO),
        "lambda_init": CostItem(units=init_gb_s, unit="GB-s", usd=init_gb_s * settings.price_lambda_gb_s_nusd * NANO),
    }


EVENT_AGE_HINT = (
    "give the run's measured time per point as `expected_point_s` (`sweep plan FILE --stage S --sample 5` "
    "measures it), use fewer or shorter shards, raise the worker's concurrency (`worker_concurrency` with the "
    "stage's reserved concurrency) or its event age (`maxEventAgeS` and `max_event_age_s`, at most 21,600 s); "
    "`refuse_expiring_runs: 0` submits anyway with a warning, and `sweep retry` reruns expired shards."
)


def event_age_message(estimate: RunEstimate) -> str:
    return (
        f"{estimate.queue_text()}: the last shard starts after {estimate.last_start_s:,.0f} s in Lambda's queue, "
        f"over the worker's maximum event age of {estimate.max_event_age_s:,} s (`max_event_age_s`): about "
        f"{estimate.expired_shards:,} shards would expire unstarted (EVENT_EXPIRED)."
    )


TAIL_WARNING = 0.75
"""A run whose last shard is expected to start past this share of the event age is warned about: the
model's due times are estimates, and a slower drain than planned expires the tail."""


def tail_message(estimate: RunEstimate) -> str:
    share = estimate.last_start_s / estimate.max_event_age_s
    return (
        f"{estimate.queue_text()}: the last shard starts after about {estimate.last_start_s:,.0f} s in Lambda's "
        f"queue, {share:.0%} of the worker's maximum event age ({estimate.max_event_age_s:,} s, "
        "`max_event_age_s`): a slower drain would expire the tail (EVENT_EXPIRED). A throttled queue is "
        "tried at most every 300 s, so fewer, longer shards or more concurrency start it sooner."
    )


def cost_message(estimate: RunEstimate, cap: int) -> str:
    parts = ", ".join(
        f"{name.replace('_', ' ')} {item.units:,.0f} {item.unit} ${item.usd:,.2f}"
        for name, item in estimate.cost.items()
    )
    return (
        f"the run's estimated cost ${estimate.cost_usd:,.2f} is over the stage's cap of ${cap:,} "
        f"(`max_run_cost_usd`): {estimate.queue_text()} at {estimate.memory_mb:,} MB; {parts}."
    )


def cost_hint(estimate: RunEstimate) -> str:
    measure = (
        "this is an upper bound (every shard until the worker's timeout): give the measured time per point as "
        "`expected_point_s`, e.g. `sweep plan FILE --stage S --sample 5`; or "
        if estimate.upper_bound
        else ""
    )
    return (
        f"{measure}run fewer points (fewer axis values or repeats), or raise the cap: "
        "`pulumi config set --path sweep:settings.max_run_cost_usd N` then `pulumi up` "
        "(or until then `sweep params seed --stage S --set max_run_cost_usd=N --force`); 0 turns the cap off."
    )


def check_run(estimate: RunEstimate, settings: SystemSettings) -> list[str]:
    """The warnings a run is submitted with; `LimitExceededError` when the stage refuses it."""
    cap = settings.max_run_cost_usd
    if cap and estimate.cost_usd > cap:
        raise LimitExceededError(
            cost_message(estimate, cap),
            field="max_run_cost_usd",
            value=round(estimate.cost_usd, 2),
            limit=cap,
            hint=cost_hint(estimate),
        )
    warnings = [timeout_message(estimate)] if estimate.unbounded_shard_s else []
    tiny = tiny_shard_message(estimate, settings)
    if tiny:
        warnings.append(tiny)
    if not estimate.expired_shards:
        if estimate.last_start_s > TAIL_WARNING * estimate.max_event_age_s:
            warnings.append(tail_message(estimate))
        return warnings
    if settings.refuse_expiring_runs:
        raise LimitExceededError(
            event_age_message(estimate),
            field="max_event_age_s",
            value=round(estimate.last_start_s),
            limit=estimate.max_event_age_s,
            hint=EVENT_AGE_HINT,
        )
    return [*warnings, event_age_message(estimate)]


def timeout_message(estimate: RunEstimate) -> str:
    return (
        f"a shard of {estimate.points / estimate.shards:,.3g} points at `expected_point_s` takes about "
        f"{estimate.unbounded_shard_s:,.0f} s, over the worker's timeout of {estimate.shard_s:,.0f} s "
        "(`worker_timeout_s`): shards will stop with TIME_BUDGET before their last points; give a smaller "
        "`shard_size`."
    )


def suggested_shard_size(estimate: RunEstimate, timeout_s: float) -> int:
    """Points per shard for shards of at least `TINY_SHARD_S`, and no more shards than workers where that
    fits within half the worker's timeout."""
    point_s = estimate.shard_s * estimate.shards / estimate.points
    one_wave = math.ceil(estimate.points / estimate.concurrency)
    if point_s <= 0:
        return min(estimate.points, one_wave)
    shortest = math.ceil(TINY_SHARD_S / point_s)
    longest = max(shortest, int(timeout_s / 2 / point_s))  # half the timeout: room for slower points
    return max(1, min(max(shortest, one_wave), longest, estimate.points))


def tiny_shard_message(estimate: RunEstimate, settings: SystemSettings) -> str | None:
    """A warning for shards under `TINY_SHARD_S` s that queue past the workers or pass S3's per-prefix rates."""
    if estimate.upper_bound or estimate.shard_s >= TINY_SHARD_S:
        return None
    workers = min(estimate.shards, estimate.concurrency)
    # a worker's requests are sequential and take tens of milliseconds each: spread over a second at least
    per_s = workers / max(estimate.shard_s, 1.0)
    writes, reads = per_s * WRITES_PER_SHARD, per_s * READS_PER_SHARD
    flooded = writes > prices.S3_PREFIX_WRITES_PER_S or reads > prices.S3_PREFIX_READS_PER_S
    queued = estimate.shards > estimate.concurrency
    if not (queued or flooded):
        return None
    parts = []
    if queued:
        work = estimate.shards * estimate.shard_s / workers
        parts.append(
            "Lambda tries a throttled queue again only at 1, 3, 7, … 511 s and then every 300 s, so the run takes "
            f"about {estimate.makespan_s:,.0f} s for {work:,.3g} s of work per worker (busy "
            f"{work / estimate.makespan_s:.1%} of it)"
        )
    overhead = estimate.cost_usd - sum(
        estimate.cost[name].usd for name in ("lambda_duration", "athena_summary") if name in estimate.cost
    )
    parts.append(
        f"S3 requests, invokes and cold starts (each cold start bills about {prices.WORKER_INIT_S:g} s of INIT) "
        f"cost {_usd(overhead)} of its {_usd(estimate.cost_usd)} ({overhead / estimate.cost_usd:.0%})"
    )
    if flooded:
        parts.append(
            f"{workers:,} workers send about {writes:,.0f} PUT/DELETE and {reads:,.0f} GET/LIST requests a second "
            f"to the run's S3 keys, and S3 serves {prices.S3_PREFIX_WRITES_PER_S:,} and "
            f"{prices.S3_PREFIX_READS_PER_S:,} a second per partitioned prefix, answering 503 SlowDown while it "
            "splits a busy one"
        )
    size = suggested_shard_size(estimate, settings.worker_timeout_s)
    point_s = estimate.shard_s * estimate.shards / estimate.points
    shards = math.ceil(estimate.points / size)
    return (
        f"{estimate.queue_text()}: shards under {TINY_SHARD_S:g} s carry Lambda's and S3's overheads per shard. "
        + "; ".join(parts)
        + f". Give a larger `shard_size`: {size:,} points a shard take about {size * point_s:,.3g} s "
        f"({shards:,} shard{'s' if shards > 1 else ''}); or run it on this machine with `sweep run FILE`, "
        "whose local engine has no queue, invoke or S3 request per shard."
    )


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.995 else f"${amount:.2g}"


SECRET_BURST_S = prices.SCALING_PERIOD_S
"""Lambda starts up to 1,000 environments of a function at once, then 1,000 more every 10 s: a run's
cold workers read their secrets within about this long of each other."""
SSM_THROUGHPUT_COMMAND = (
    "aws ssm update-service-setting --setting-id arn:aws:ssm:REGION:ACCOUNT:servicesetting/ssm/"
    "parameter-store/high-throughput-enabled --setting-value true"
)


def secret_reads(shards: int, settings: SystemSettings, secrets: Sequence[str]) -> int:
    """Parameter Store reads of a run's cold workers: each execution environment reads each secret
    of its experiment once (warm invocations reuse it), and the run starts min(shards, concurrency)."""
    return min(shards, settings.worker_concurrency) * len(secrets)


def with_secret_reads(estimate: RunEstimate, settings: SystemSettings, secrets: Sequence[str]) -> RunEstimate:
    """`estimate` with the bill for Parameter Store's higher throughput when the stage has it on
    (`ssm_high_throughput`): every API interaction is billed then."""
    if not settings.ssm_high_throughput:
        return estimate
    reads = secret_reads(estimate.shards, settings, secrets)
    item = CostItem(units=reads, unit="API interactions", usd=reads * settings.price_ssm_high_throughput_nusd * NANO)
    return estimate.model_copy(
        update={"cost": {**estimate.cost, "ssm_high_throughput": item}, "cost_usd": estimate.cost_usd + item.usd}
    )


def secret_fanout_message(shards: int, settings: SystemSettings, experiment: str, secrets: Sequence[str]) -> str | None:
    """A warning when the run's cold workers would read more secrets at once than Parameter Store's
    default 40 reads a second serve in `SECRET_BURST_S`; none with higher throughput on."""
    reads = secret_reads(shards, settings, secrets)
    served = int(prices.SSM_STANDARD_TPS * SECRET_BURST_S)
    if settings.ssm_high_throughput or reads <= served:
        return None
    workers = min(shards, settings.worker_concurrency)
    names = ", ".join(f"`{name}`" for name in secrets)
    per_worker = served // len(secrets)
    return (
        f"experiment `{experiment}` reads {len(secrets)} secret{'s' if len(secrets) > 1 else ''} ({names}) in each "
        f"cold worker: this run starts {workers:,} workers (min of its {shards:,} shards and `worker_concurrency` "
        f"{settings.worker_concurrency:,}), {reads:,} Parameter Store reads, and Lambda starts up to "
        f"{prices.SCALING_STEP:,} workers at once ({prices.SCALING_STEP:,} more every {SECRET_BURST_S:g} s), but "
        f"Parameter Store serves {prices.SSM_STANDARD_TPS} reads a second by default, {served:,} in "
        f"{SECRET_BURST_S:g} s: the rest are throttled, wait out retries from the shard's time budget and may fail "
        f"with SECRET_UNAVAILABLE. Fix: turn on Parameter Store's higher throughput for the account "
        f"(`{SSM_THROUGHPUT_COMMAND}`, then the stage setting `ssm_high_throughput: 1`; billed "
        f"${settings.price_ssm_high_throughput_nusd * NANO * 10_000:,.2f} per 10,000 API interactions), or run at "
        f"most {per_worker:,} workers at once (`worker_concurrency`, or a run of at most {per_worker:,} shards)."
    )
