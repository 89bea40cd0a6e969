"""Started markers: how a redelivered shard learns that an earlier execution died with its process.

Lambda retries an async invoke whose execution failed (a crash, `os._exit`, the OOM killer) up to
twice, with the *same* event, so the same attempt number: the attempt cannot tell a redelivery
from a first delivery, and a point that kills its process would kill all three. So each execution
writes a small marker when it starts a shard and removes it once the shard's outcome is recorded;
an execution that finds another's marker runs its points isolated (`sweep_worker.isolate`), where
the crashing point becomes a `WORKER_CRASHED` error row and the rest of the shard runs.

A marker may also belong to a copy that is still running (at-least-once delivery): isolating
then costs only a fork per crash and the loss of in-shard concurrency, never a wrong row."""

from __future__ import annotations

import json
import logging

from sweep_contracts import layout
from sweep_contracts.storage import ObjectStore
from sweep_contracts.tasks import ShardTask

log = logging.getLogger("sweep.worker")


def mark_started(store: ObjectStore, task: ShardTask, execution: str, *, request_id: str | None, at: str) -> bool:
    """Write this execution's marker for `task`'s shard. True when another execution left one
    (it died, or is still running), or when the store cannot say: then isolate, it is only slower."""
    own = layout.started_key(task.run_id, task.shard_id, execution)
    try:
        earlier = [key for key in store.list(layout.started_prefix(task.run_id, task.shard_id)) if key != own]
    except Exception as exc:
        log.warning(
            "shard %s/%s: cannot list its started markers (%s); isolating its points", task.run_id, task.shard_id, exc
        )
        earlier = ["unknown"]
    if earlier:
        log.warning(
            "shard %s/%s: an earlier execution started it and recorded no outcome (%s); isolating its points",
            task.run_id,
            task.shard_id,
            ", ".join(key.rsplit("/", 1)[-1].removesuffix(".json") for key in earlier),
        )
    marker = {"execution": execution, "attempt": task.attempt, "request_id": request_id, "started_at": at}
    try:
        store.put(own, json.dumps(marker, sort_keys=True).encode())
    except Exception as exc:
        # not fatal: the shard still runs; only a crash now would not be isolated on redelivery
        log.warning("shard %s/%s: cannot write its started marker: %s", task.run_id, task.shard_id, exc)
    return bool(earlier)


def clear_started(store: ObjectStore, run_id: str, shard_id: int, execution: str | None) -> None:
    """Remove this execution's marker, or with `execution=None` (the shard succeeded: nothing is
    left to isolate) every marker of the shard. A marker that stays only makes a later execution
    isolate its points."""
    prefix = layout.started_prefix(run_id, shard_id)
    try:
        keys = [layout.started_key(run_id, shard_id, execution)] if execution else list(store.list(prefix))
        for key in keys:
            store.delete(key)
    except Exception as exc:
        log.warning("shard %s/%s: cannot remove its started markers (left behind): %s", run_id, shard_id, exc)
