"""Reconciling the worker's on-failure destination: a worker that crashed or timed out (after
Lambda's own retries) wrote no outcome; its destination record becomes the `failure` outcome
`WORKER_CRASHED` or `WORKER_TIMEOUT`, so no shard is silently lost. An invoke that waited in
Lambda's queue longer than the worker's maximum event age (condition `EventAgeExceeded`) never
ran at all: it becomes `EVENT_EXPIRED`, whose fix is different (more concurrency, a longer event
age, fewer or shorter shards), so it must not read as a crash.

A record (AWS's shape for async invocation destinations):

    {"version": "1.0", "timestamp": "…",
     "requestContext": {"requestId": "…", "functionArn": "…", "condition": "RetriesExhausted",
                        "approximateInvokeCount": 3},
     "requestPayload": {<the shard task>},
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
     "responsePayload": {"errorMessage": "… Task timed out after 900.00 seconds", "errorType": "…"}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.storage import ObjectStore
from sweep_contracts.tasks import identify_task
from sweep_orchestrator.dispatch_task import DISPATCH_KIND, DispatchTask
from sweep_orchestrator.failures import ShardFailure, record_failures

log = logging.getLogger("sweep.reconcile")
EXPIRED = "EventAgeExceeded"
"""The destination condition of an invoke Lambda dropped from its queue unstarted."""


def is_destination_record(event: Any) -> bool:
    return (
        isinstance(event, Mapping)
        and "requestPayload" in event
        and isinstance(event.get("requestContext"), Mapping)
        and "condition" in event["requestContext"]
    )


def _timed_out(response: Mapping[str, Any]) -> bool:
    message, kind = str(response.get("errorMessage", "")), str(response.get("errorType", ""))
    return "Task timed out" in message or kind == "Sandbox.Timedout"


def reconcile(record: Mapping[str, Any], store: ObjectStore, clock: Callable[[], datetime]) -> dict[str, Any]:
    """Record the failure the destination record describes; a shard that succeeded meanwhile keeps
    its success (see `record_outcome`)."""
    context = record["requestContext"]
    payload = record.get("requestPayload")
    if isinstance(payload, Mapping) and payload.get("kind") == DISPATCH_KIND:
        return _dispatcher_failed(DispatchTask.model_validate(payload), context, record, store, clock)
    task = identify_task(payload)
    if task is None:
        log.error("destination record without a shard task (request %s)", context.get("requestId"))
        return {"reconciled": False, "reason": "the record carries no shard task"}
    response = record.get("responsePayload") or {}
    response = response if isinstance(response, Mapping) else {"errorMessage": str(response)}
    code, message = _classify(context, response)
    failure = ShardFailure(
        shard_id=task.shard_id,
        attempt=task.attempt,
        points_total=task.points_total,
        code=code,
        message=message,
        request_id=context.get("requestId"),
    )
    written = record_failures(store, task.run_id, [failure], clock()) == 1
    log.warning("shard %s/%s: %s (recorded: %s)", task.run_id, task.shard_id, code.value, written)
    return {"reconciled": written, "run_id": task.run_id, "shard_id": task.shard_id, "error_code": code.value}


def _dispatcher_failed(
    task: DispatchTask,
    context: Mapping[str, Any],
    record: Mapping[str, Any],
    store: ObjectStore,
    clock: Callable[[], datetime],
) -> dict[str, Any]:
    """A child dispatcher that failed for good: its shards get `DISPATCH_FAILED` now, not when the
    run is overdue. One it handed over before it failed may still run; its success replaces this
    failure (`record_outcome`), and `sweep retry` re-dispatches the rest."""
    response = record.get("responsePayload") or {}
    response = response if isinstance(response, Mapping) else {"errorMessage": str(response)}
    message = (
        f"the dispatcher for these shards failed ({context.get('condition')}, "
        f"{context.get('approximateInvokeCount')} attempts): {response.get('errorType', 'error')}: "
        f"{response.get('errorMessage', 'no message')}. Re-dispatch them with `sweep retry`"
    )
    failures = [
        ShardFailure(
            shard_id=shard_id,
            attempt=attempt,
            points_total=task.plan.shard(shard_id).size,
            code=ErrorCode.DISPATCH_FAILED,
            message=message,
            request_id=context.get("requestId"),
        )
        for shard_id, attempt in task.refs()
    ]
    written = record_failures(store, task.run_id, failures, clock())
    log.warning("run %s: a dispatcher of %d shards failed; %d recorded", task.run_id, len(failures), written)
    return {"reconciled": written > 0, "run_id": task.run_id, "shards": len(failures), "recorded": written}


def _classify(context: Mapping[str, Any], response: Mapping[str, Any]) -> tuple[ErrorCode, str]:
    if context.get("condition") == EXPIRED:
        # an attempt that failed and was requeued can expire too: keep its error in the message
        last = (
            f" (last attempt: {response.get('errorType', 'error')}: {response.get('errorMessage')})" if response else ""
        )
        return ErrorCode.EVENT_EXPIRED, (
            f"the shard's invoke waited in Lambda's queue past the worker's maximum event age and was dropped "
            f"({EXPIRED}, {context.get('approximateInvokeCount')} attempts): the worker's concurrency was full. "
            "Retry it with `sweep retry`; for large runs raise the worker's concurrency or `maxEventAgeS`, "
            f"or make shards shorter{last}"
        )
    code = ErrorCode.WORKER_TIMEOUT if _timed_out(response) else ErrorCode.WORKER_CRASHED
    return code, (
        f"the worker invocation failed ({context.get('condition')}, {context.get('approximateInvokeCount')} "
        f"attempts): {response.get('errorType', 'error')}: {response.get('errorMessage', 'no message')}"
    )
