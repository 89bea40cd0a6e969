"""What runs inside the local pool's processes: the worker's Lambda handler, unchanged.

Light to import: the parent process only needs the names to hand to the pool. The forkserver
preloads `warm_up` (pyarrow, the worker, the experiments) once, so each worker starts warm."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import logging
import os
import signal
import warnings
from multiprocessing.connection import Connection
from typing import Any

from sweep_contracts import environment

_calls = itertools.count(1)
PRELOAD = [
    "sweep_worker.handler",
    "sweep_worker.sink",
    "sweep_worker.arrow_schema",
    "pyarrow.compute",  # a batch's rows are built with its kernels (sweep_worker.columns)
    "pyarrow.parquet",
    "sweep_cli.local._prewarm",
    # multiprocessing runs the parent's main script again in each process it starts: the `sweep`
    # script imports only `sweep_cli.launch` (light), so the CLI itself is not preloaded
    "sweep_cli.launch",
]


def warm_up() -> None:
    from sweep_contracts.errors import PluginWarning
    from sweep_contracts.experiments import Registry

    # the parent already warned about broken plugins once; the fork server and pool stay quiet
    warnings.simplefilter("ignore", PluginWarning)
    # the installed experiments found, none imported: a pool process imports the one its run names
    # on its first task. Importing every one (the LLM ones bring an HTTP client) was ~0.15 s of the
    # fork server's start, which the first shard of every run waits for (issue 13)
    Registry.on_demand()


def start_fork_server() -> None:
    """Start the fork server, which loads `PRELOAD` (~0.6 s), without waiting for it: `sweep run`
    calls this first, so that it loads while the command reads, checks and plans the sweep. It
    starts no pool process, and a sweep that fails its checks only leaves it to exit with sweep."""
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.get_context("forkserver").set_forkserver_preload([__name__, *PRELOAD])
        # only a head start: a fork server that cannot start now (no room for its socket, no
        # processes left) is started again by the pool, whose failure the run reports as such
        with contextlib.suppress(OSError):
            forkserver.ensure_running()


class LocalContext:
    """The Lambda context's attributes, for a local process. No `get_remaining_time_in_millis`:
    the worker then takes its budget from the task's `shard_time_budget_s` setting."""

    function_name = "sweep-local-worker"
    function_version = "$LOCAL"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:sweep-local-worker"
    memory_limit_in_mb = 0
    log_group_name = log_stream_name = "local"

    def __init__(self) -> None:
        self.aws_request_id = f"local-{os.getpid()}-{next(_calls)}"


def secret_environment() -> dict[str, str]:
    """The parent's `SWEEP_SECRET_*` variables now, for its pool processes (see `init_process`)."""
    return {k: v for k, v in os.environ.items() if k.startswith(environment.SECRET_PREFIX)}


def init_process(store_root: str, secrets: dict[str, str] | None = None) -> None:
    from sweep_worker import handler as worker

    # outcomes carry every failure into the summary; log lines would only break the progress bar
    logging.getLogger("sweep").setLevel(logging.ERROR)
    os.environ[environment.STORE] = store_root
    # The fork server copies the environment once, when the first run of this process starts it: a
    # caller that sets or changes a secret variable afterwards (a notebook, a test) must still be
    # heard, so each run hands its pool the parent's secret variables as they are now.
    if secrets is not None:
        for name in [k for k in os.environ if k.startswith(environment.SECRET_PREFIX)]:
            del os.environ[name]
        os.environ.update(secrets)
    worker.reset()
    warm_up()
    # What the fork server loaded lives as long as this process: out of the cyclic collector's
    # sight, a shard's collections walk only its own objects (~4x less time collecting, issue 13)
    gc.freeze()


def run_task(event_json: str) -> dict[str, Any]:
    from sweep_worker import handler as worker

    return worker.handler(json.loads(event_json), LocalContext())


def probe(event_json: str, seconds: float, points: int) -> float | None:
    """Seconds per point of the task's sweep, timed here without writing anything (`sweep_cli.local.sizing`)."""
    from sweep_contracts.tasks import parse_task
    from sweep_worker import handler as worker
    from sweep_worker.probe import probe_point_cost

    task = parse_task(json.loads(event_json))
    experiment = worker.deps_from_environment().registry.get(task.experiment)
    return probe_point_cost(task, experiment, seconds, points)


def answer(payload: Any) -> Any:
    """A shard task's result, or a probe's (a tuple `("probe", event_json, seconds, points)`)."""
    if isinstance(payload, tuple):
        return probe(*payload[1:])
    return run_task(payload)


def serve(conn: Connection, store_root: str, secrets: dict[str, str] | None = None) -> None:
    """A pool process: run each shard task it is sent and answer with its result, until told to stop.

    Ctrl-C and a hangup reach every process of the terminal's group; only the parent acts on them
    (it ends the processes and records their shards), so here they are ignored rather than ending
    the shard on their own or printing a traceback. A parent that is gone closes the pipe.

    Its fds 1 and 2 go into the points' captured text (`sweep_worker.capture.capture_descriptors`):
    nothing a point writes reaches the terminal of `sweep run` raw."""
    from sweep_worker.capture import capture_descriptors

    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    capture_descriptors()
    init_process(store_root, secrets)
    while True:
        try:
            event_json = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if event_json is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", answer(event_json))
        except Exception as exc:
            reply = ("raised", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:  # the parent is gone; the shard's own outcome is in the store
            return
