"""Internal messages are checked against the run they name before the orchestrator acts on them.

The orchestrator accepts two kinds of event besides API requests: its own `sweep.dispatch` tasks
(the fan-out tree) and the worker's on-failure destination records. Neither passes through the
API's IAM auth, so neither is trusted for what it says: the run must exist, the shards must be in
its plan, and the config, spec and settings must be the manifest's. A message that fails is
refused with a log line and no effect — it can neither start work a run never asked for nor
record an outcome for a shard that is not one."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sweep_contracts.errors import RunNotFoundError, StoreError, SweepError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import ObjectStore
from sweep_contracts.tasks import identify_task
from sweep_orchestrator.dispatch_task import DISPATCH_KIND, DispatchTask
from sweep_orchestrator.runs import load_manifest

log = logging.getLogger("sweep.trust")

CONDITIONS = frozenset({"RetriesExhausted", "EventAgeExceeded"})
"""Why Lambda sends an async invocation's record to its on-failure destination."""
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[A-Za-z0-9_-]+)(?::[^:]+)?$")


class Untrusted(Exception):  # noqa: N818 - a verdict, caught at the handler boundary
    """An internal message that does not match the run it names."""


def _manifest(store: ObjectStore, run_id: str) -> RunManifest:
    try:
        return load_manifest(store, run_id)
    except (RunNotFoundError, StoreError) as exc:
        raise Untrusted(f"run `{run_id}` has no valid manifest") from exc


def verify_dispatch(task: DispatchTask, store: ObjectStore) -> None:
    """A dispatch task must name a real run, carry its manifest's config, spec, settings and plan,
    and only shards of that plan."""
    manifest = _manifest(store, task.run_id)
    plan = manifest.plan
    if task.experiment != manifest.request.experiment or task.config != manifest.request.config:
        raise Untrusted(f"the dispatch task's experiment or config is not run `{task.run_id}`'s")
    if (
        task.spec != manifest.request.spec()
        or task.settings != manifest.task_settings()
        or task.tally_series != manifest.tally_series
    ):
        raise Untrusted(f"the dispatch task's sweep spec or settings are not run `{task.run_id}`'s")
    if (task.plan.points_total, task.plan.shard_size, task.plan.shard_count) != (
        plan.points_total,
        plan.shard_size,
        plan.shard_count,
    ):
        raise Untrusted(f"the dispatch task's plan is not run `{task.run_id}`'s")
    for first, stop, attempt in task.shards:
        if not 0 <= first < stop <= plan.shard_count or attempt < 1:
            raise Untrusted(f"shards {first}..{stop - 1} (attempt {attempt}) are not in run `{task.run_id}`'s plan")


def verify_destination(
    record: Mapping[str, Any],
    store: ObjectStore,
    worker_function: str | None,
    orchestrator_function: str | None = None,
) -> None:
    """A destination record must have AWS's shape, and carry either a shard task from the stage's
    worker function or a dispatch task from its orchestrator function, exactly as the orchestrator
    built it for a real run's plan."""
    context = record.get("requestContext")
    if not isinstance(context, Mapping) or context.get("condition") not in CONDITIONS:
        raise Untrusted("the record has no requestContext.condition that Lambda sends")
    match = _FUNCTION_ARN.match(str(context.get("functionArn", "")))
    payload = record.get("requestPayload")
    if isinstance(payload, Mapping) and payload.get("kind") == DISPATCH_KIND:
        # a child dispatcher that failed for good (Lambda's retries spent, or its event expired)
        if match is None or orchestrator_function is None or match["name"] != orchestrator_function:
            raise Untrusted(f"the record's functionArn {context.get('functionArn')!r} is not the orchestrator's")
        try:
            verify_dispatch(DispatchTask.model_validate(payload), store)
        except (ValidationError, SweepError) as exc:
            raise Untrusted("the record carries no valid dispatch task") from exc
        return
    if match is None or (worker_function is not None and match["name"] != worker_function):
        raise Untrusted(f"the record's functionArn {context.get('functionArn')!r} is not the worker's")
    task = identify_task(payload)
    if task is None or not isinstance(payload, Mapping):
        raise Untrusted("the record carries no shard task")
    manifest = _manifest(store, task.run_id)
    if not 0 <= task.shard_id < manifest.plan.shard_count:
        raise Untrusted(f"shard {task.shard_id} is not in run `{task.run_id}`'s plan")
    built = manifest.task_factory().event(task.shard_id, task.attempt)
    if {k: payload.get(k) for k in built} != built:
        raise Untrusted(f"the record's task is not the one run `{task.run_id}` sends for shard {task.shard_id}")


def refused(kind: str, reason: Untrusted) -> dict[str, Any]:
    log.error("refused a %s message: %s", kind, reason)
    return {"refused": True, "reason": str(reason)}
