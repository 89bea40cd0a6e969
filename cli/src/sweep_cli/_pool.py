"""What runs inside the local pool's processes: the worker's Lambda handler, unchanged.

Kept light and importable on its own: the forkserver preloads it (and with it pyarrow and the
experiments) once, so each worker process starts warm."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from sweep_contracts import environment
from sweep_contracts.experiments import Registry
from sweep_worker import handler as worker

Registry.default()  # load the experiments' entry points before forking
_calls = itertools.count(1)


class LocalContext:
    """The slice of the Lambda context the handler reads. No `get_remaining_time_in_millis`:
    the worker then takes its budget from the task's `shard_time_budget_s` setting."""

    def __init__(self) -> None:
        self.aws_request_id = f"local-{os.getpid()}-{next(_calls)}"
        self.function_name = "sweep-local-worker"


def init_process(store_root: str) -> None:
    os.environ[environment.STORE] = store_root
    worker.reset()


def run_task(event_json: str) -> dict[str, Any]:
    return worker.handler(json.loads(event_json), LocalContext())
