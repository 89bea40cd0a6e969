"""Entry point of the worker: `sweep_worker.handler.handler(event, context)`, on Lambda and locally.

Wiring only: the store, registry and secrets are built once per cold start; the work is in
`sweep_worker.runner`."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from sweep_contracts import environment
from sweep_contracts.experiments import Registry
from sweep_worker.errors import WorkerConfigurationError
from sweep_worker.runner import WorkerDeps, process_event
from sweep_worker.stores import open_store

logging.getLogger("sweep").setLevel(logging.INFO)


@functools.cache
def deps_from_environment() -> WorkerDeps:
    """The worker's dependencies as the environment describes them (`SWEEP_STORE`)."""
    uri = os.environ.get(environment.STORE)
    if not uri:
        raise WorkerConfigurationError(
            f"`{environment.STORE}` is not set, so the worker does not know where to write results.",
            field=environment.STORE,
            hint="set it to `s3://<bucket>` on Lambda (the Pulumi program does) or to a directory locally.",
        )
    return WorkerDeps(store=open_store(uri), registry=Registry.default())


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run the shard task in `event`; the time budget comes from the Lambda context when it has one."""
    return process_event(
        event,
        deps_from_environment(),
        remaining_ms=getattr(context, "get_remaining_time_in_millis", None),
        request_id=getattr(context, "aws_request_id", None),
    )


def reset() -> None:
    """Forget the cached dependencies (tests, and a local pool that changes its store)."""
    deps_from_environment.cache_clear()
