"""Dispatch on Lambda: one async invoke (InvocationType `Event`) of the worker per shard, from a
bounded thread pool, with backoff on throttling. A run with more shards than `fanout_batch_size`
is split into groups handed to asynchronous invocations of the orchestrator itself — a fan-out
tree — so no single invocation dispatches more than that many, and POST /runs answers at once.
A node that delegates also invokes its first few shards itself, so the first shards start while
the child dispatchers start."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sweep_aws.invoke import Invoker
from sweep_aws.pacing import InvokePacer
from sweep_contracts.manifest import RunManifest
from sweep_contracts.tasks import TaskFactory, TaskSettings
from sweep_orchestrator.dispatch import DispatchReport, ShardRef
from sweep_orchestrator.dispatch_task import DispatchTask

log = logging.getLogger("sweep.dispatch")


API_BUDGET_S = 20.0
"""How long POST /runs may spend dispatching: API Gateway gives up on the request at 30 s."""
MARGIN_S = 10.0
"""What a child dispatcher keeps of its Lambda time to record the shards it could not hand over."""


@dataclass(frozen=True)
class DispatchPolicy:
    """How hard to push: threads, attempts per invoke, the most shards one invocation sends, and
    how long one invocation may keep retrying throttled invokes (`budget_s`).

    A throttle (429) is not a failure: Lambda caps invoke requests at 10 × the account's
    concurrency quota per second, so a dispatcher on a new account is throttled by design. It is
    retried as botocore's standard mode retries throttles (full jitter, base 1 s, cap 20 s), for as
    long as the budget lasts, while `InvokePacer` slows every thread of the dispatch to the rate
    Lambda accepts. Other transient errors get `max_attempts` tries with a short backoff."""

    concurrency: int
    max_attempts: int
    fanout_batch: int
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 2.0
    throttle_base_s: float = 1.0
    throttle_cap_s: float = 20.0
    budget_s: float = API_BUDGET_S

    @classmethod
    def from_settings(cls, settings: TaskSettings, remaining_s: float | None = None) -> DispatchPolicy:
        """The policy of a run's settings; `remaining_s`, the invocation's time left, sets the
        budget of a child dispatcher (POST /runs keeps `API_BUDGET_S`)."""
        budget = API_BUDGET_S if remaining_s is None else max(1.0, remaining_s - MARGIN_S)
        return cls(
            settings.dispatch_concurrency, settings.dispatch_max_attempts, settings.fanout_batch_size, budget_s=budget
        )


class NoPacing:
    """A pacer that never waits (tests whose clock is fake: `InvokePacer` waits in real time)."""

    def before_send(self) -> None:
        pass

    def after(self, *, throttled: bool) -> None:
        pass


def split(refs: Sequence[ShardRef], batch: int) -> list[list[ShardRef]]:
    """At most `batch` groups of near-equal size, in order (a group larger than `batch` splits
    again when its dispatcher receives it)."""
    groups = min(batch, math.ceil(len(refs) / batch))
    size = math.ceil(len(refs) / groups)
    return [list(refs[i : i + size]) for i in range(0, len(refs), size)]


LEAD_SHARDS = 8
"""How many shards a dispatcher that hands the rest on invokes itself: enough that a run's first
results never wait for a child dispatcher's sandbox. More only delays the answer: with a wave of
32, POST /runs answered a 1,000-shard run in 0.13 s rather than 0.065 s, its first shard starting
no sooner (bench (e), 4 runs each)."""


def lead_count(policy: DispatchPolicy) -> int:
    """How many shards a dispatcher that delegates the rest invokes itself (`LEAD_SHARDS`)."""
    return min(LEAD_SHARDS, policy.concurrency, policy.fanout_batch)


class LambdaDispatcher:
    """Implements `Dispatcher` with async Lambda invokes."""

    def __init__(
        self,
        invoker: Invoker,
        worker_function: str,
        orchestrator_function: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        pacer: Callable[[], InvokePacer | NoPacing] = InvokePacer,
    ) -> None:
        self.invoker = invoker
        self.worker_function = worker_function
        self.orchestrator_function = orchestrator_function
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._pacer = pacer

    def dispatch(self, manifest: RunManifest, shards: Sequence[ShardRef]) -> DispatchReport:
        factory = manifest.task_factory()
        return self.dispatch_shards(factory, shards, DispatchPolicy.from_settings(factory.settings))

    def dispatch_shards(self, factory: TaskFactory, refs: Sequence[ShardRef], policy: DispatchPolicy) -> DispatchReport:
        """Invoke the worker for each shard, or, for more than `fanout_batch` shards, invoke the
        first ones (`lead`) and hand groups of the rest to child orchestrator invocations."""
        if len(refs) <= policy.fanout_batch or not self.orchestrator_function:
            payloads = [factory.event_json(shard_id, attempt) for shard_id, attempt in refs]
            errors = self._invoke_all([(self.worker_function, p) for p in payloads], policy)
            report = DispatchReport(dispatched=len(refs) - sum(e is not None for e in errors))
            report.failed = {ref[0]: error for ref, error in zip(refs, errors, strict=True) if error is not None}
            return report
        # The first shards are invoked here, beside the hand-over: a child dispatcher starts in a
        # sandbox of its own (~0.3 s before its first invoke), and this invocation's threads are
        # idle meanwhile, so the run's first shards start that much sooner (issue 13, bench (e)).
        first = lead_count(policy)
        lead, rest = refs[:first], refs[first:]
        groups = split(rest, policy.fanout_batch)
        calls = [
            *((self.orchestrator_function, DispatchTask.for_shards(factory, g).model_dump_json()) for g in groups),
            *((self.worker_function, factory.event_json(shard_id, attempt)) for shard_id, attempt in lead),
        ]
        errors = self._invoke_all(calls, policy)
        report = DispatchReport()
        for group, error in zip(groups, errors[: len(groups)], strict=True):
            if error is None:
                report.delegated += len(group)
            else:
                report.failed.update(
                    {shard_id: f"could not start a dispatcher for it: {error}" for shard_id, _ in group}
                )
        for (shard_id, _), error in zip(lead, errors[len(groups) :], strict=True):
            if error is None:
                report.dispatched += 1
            else:
                report.failed[shard_id] = error
        log.info(
            "run %s: %d shards dispatched, %d delegated to %d dispatchers",
            factory.run_id,
            report.dispatched,
            report.delegated,
            len(groups),
        )
        return report

    def _invoke_all(self, calls: list[tuple[str, str]], policy: DispatchPolicy) -> list[str | None]:
        """Invoke each (function, payload), in order, from up to `concurrency` threads paced together."""
        pacer, deadline = self._pacer(), self._clock() + policy.budget_s
        if len(calls) == 1:
            return [self.invoke(calls[0][0], calls[0][1], policy, pacer, deadline)]
        with ThreadPoolExecutor(max_workers=min(policy.concurrency, len(calls) or 1)) as pool:
            return list(pool.map(lambda call: self.invoke(call[0], call[1], policy, pacer, deadline), calls))

    def invoke(
        self,
        function: str,
        payload: str,
        policy: DispatchPolicy,
        pacer: InvokePacer | NoPacing | None = None,
        deadline: float | None = None,
    ) -> str | None:
        """Send one event, retrying as `policy` says: None once Lambda accepted it, else why it did
        not (benchmarks time this one call). Throttles are retried until the budget is spent, as
        counted both by the clock and by the waits themselves."""
        body = payload.encode()
        pacer = pacer or NoPacing()
        deadline = self._clock() + policy.budget_s if deadline is None else deadline
        attempt = throttles = 0
        waited = 0.0
        while True:
            pacer.before_send()
            result = self.invoker.invoke_async(function, body)
            pacer.after(throttled=result.throttled)
            if result.accepted:
                return None
            if not result.retryable:
                return result.describe()
            if result.throttled:
                throttles += 1
                wait = self._rng() * min(policy.throttle_cap_s, policy.throttle_base_s * 2**throttles)
                wait = max(wait, result.retry_after_s or 0.0)
                if waited + wait > policy.budget_s or self._clock() + wait > deadline:
                    budget = f"the dispatch budget of {policy.budget_s:.0f} s ran out"
                    return f"{result.describe()} (throttled {throttles} times; {budget})"
            else:
                attempt += 1
                if attempt >= policy.max_attempts:
                    return f"{result.describe()} (gave up after {policy.max_attempts} attempts)"
                wait = self._rng() * min(policy.backoff_cap_s, policy.backoff_base_s * 2**attempt)
                wait = max(wait, result.retry_after_s or 0.0)  # Lambda's Retry-After, bounded
            waited += wait
            self._sleep(wait)
