"""What runs inside the local pool's processes: the worker's Lambda handler, unchanged.

Light to import: the parent process only needs the names to hand to the pool. The forkserver
preloads `warm_up` (pyarrow, the worker, the experiments) once, so each worker starts warm."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from sweep_contracts import environment

_calls = itertools.count(1)
PRELOAD = ["sweep_worker.handler", "sweep_worker.sink"]


def warm_up() -> None:
    from sweep_contracts.experiments import Registry

    Registry.default()


class LocalContext:
    """The slice of the Lambda context the handler reads. No `get_remaining_time_in_millis`:
    the worker then takes its budget from the task's `shard_time_budget_s` setting."""

    def __init__(self) -> None:
        self.aws_request_id = f"local-{os.getpid()}-{next(_calls)}"
        self.function_name = "sweep-local-worker"


def init_process(store_root: str) -> None:
    from sweep_worker import handler as worker

    os.environ[environment.STORE] = store_root
    worker.reset()
    warm_up()


def run_task(event_json: str) -> dict[str, Any]:
    from sweep_worker import handler as worker

    return worker.handler(json.loads(event_json), LocalContext())
