"""The local engine: the orchestrator core with a process-pool dispatcher running the worker handler."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.context import ForkServerContext, SpawnContext
from pathlib import Path
from typing import Any

from sweep_cli.local import _pool
from sweep_cli.local.procpool import Died, Finished, Overran, ProcessPool, Result
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.dispatch import DispatchReport, ShardRef
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.runtime import Runtime

POLL_S = 0.2
"""How often `wait` looks for a stop request while no shard finishes."""


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class ShardDone:
    """A shard the pool finished (or lost)."""

    shard_id: int
    points: int
    points_failed: int
    failed: bool


Key = tuple[str, int]
"""(run_id, shard_id) of a task in the pool."""

PROBE: Key = ("", -1)
"""The key of the probe that times a sweep's points before it is planned."""
OVERRUN_GRACE_S = 5.0
"""How long past its time budget (`shard_time_budget_s`) a shard's process may take before the
parent kills it: the worker stops itself at the budget, less a margin to write its rows, and an
isolated point past the budget is ended by its own parent 1 s later (`sweep_worker.isolate`)."""
PROBE_GRACE_S = 60.0
"""How long past its own time a probe may take to answer: the pool's processes start first."""


def _never() -> int | None:
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class RunInterrupted(Exception):  # noqa: N818 - a stop the user asked for, not an error
    """A signal stopped the run; its unfinished shards were recorded as `INTERRUPTED`."""

    def __init__(self, signum: int, run_ids: list[str], unfinished: int) -> None:
        super().__init__(f"interrupted by {_signal_name(signum)}")
        self.signum = signum
        self.run_ids = run_ids
        self.unfinished = unfinished

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process that a signal ended."""
        return 128 + self.signum


class PoolDispatcher:
    """Dispatches shard tasks to a process pool; `wait()` then reports each shard as it finishes.

    The pool starts on the first dispatch (or probe), so a request that fails validation starts no
    pool process (`start_loading` may have started the fork server, which only loads modules).
    A worker process that dies (out of memory, a crash in native code) fails only the shard it
    was running, with `WORKER_CRASHED`; the pool replaces the process and the other shards run.
    When `stop_requested` names a signal, `wait` ends the processes, records every unfinished
    shard as `INTERRUPTED` and raises `RunInterrupted`.

    The time budget does not rely on the point's cooperation: a point that turns off the worker's
    alarm (`signal.alarm(0)`, as timeout helpers do) or swallows its interruption (`except
    BaseException`) has its process killed by the pool at the budget + `OVERRUN_GRACE_S`. The shard
    is then run once more at once, as Lambda redelivers a task whose execution died: the worker
    finds the killed execution's started marker and runs the points in child processes
    (`sweep_worker.isolate`), where the point past the budget is ended alone, the points before
    it are kept, and the shard ends `TIME_BUDGET`. Should that run overrun too, the shard fails
    `TIME_BUDGET` as a whole."""

    def __init__(self, store_root: Path, workers: int) -> None:
        self.store_root = Path(store_root)
        self.workers = workers
        self._pool: ProcessPool[Key] | None = None
        self._tasks: dict[Key, tuple[RunManifest, int]] = {}
        self._redelivered: set[Key] = set()
        self.points_dispatched = 0
        self.stop_requested: Callable[[], int | None] = _never

    @staticmethod
    def _context() -> ForkServerContext | SpawnContext:
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([_pool.__name__, *_pool.PRELOAD])
            return context
        return multiprocessing.get_context("spawn")

    @classmethod
    def start_loading(cls) -> None:
        """Start the fork server without waiting for it: it loads the worker's modules (~1 s) while
        this process checks and plans the run, rather than after, when the probe or the first
        shard waits for it. No pool process starts until then."""
        _pool.start_fork_server()

    def _processes(self) -> ProcessPool[Key]:
        if self._pool is None:
            context = self._context()
            self._pool = ProcessPool(
                self.workers, context, _pool.serve, (str(self.store_root), _pool.secret_environment())
            )
        return self._pool

    def dispatch(self, manifest: RunManifest, shards: Sequence[ShardRef]) -> DispatchReport:
        pool = self._processes()
        factory = manifest.task_factory()
        limit_s = factory.settings.shard_time_budget_s + OVERRUN_GRACE_S
        for shard_id, attempt in shards:
            key = (manifest.run_id, shard_id)
            pool.submit(key, factory.event_json(shard_id, attempt), limit_s)
            self._tasks[key] = (manifest, attempt)
            self.points_dispatched += manifest.plan.shard(shard_id).size
        return DispatchReport(dispatched=len(shards))

    def probe(self, manifest: RunManifest, seconds: float, points: int) -> float | None:
        """Seconds per point of the run's sweep, timed in a pool process on up to `points` points
        within `seconds` (`sweep_cli.local.sizing`); None when it cannot say: the experiment is not timed
        (it waits on a service), its process died or raised, it did not answer in time, or a stop
        was requested (the run then starts and stops as any other)."""
        pool = self._processes()
        pool.submit(PROBE, ("probe", manifest.task_factory().event_json(0, 1), seconds, points))
        deadline = time.monotonic() + seconds + PROBE_GRACE_S
        while time.monotonic() < deadline and self.stop_requested() is None:
            for result in pool.results(timeout=POLL_S):
                if result.key == PROBE:
                    return result.value if isinstance(result, Finished) else None
        pool.stop()  # stuck in native code past its alarm, or asked to stop: end it; dispatch starts afresh
        return None

    def wait(self, on_done: Callable[[ShardDone], None], on_tick: Callable[[], None] | None = None) -> None:
        """Block until every dispatched shard is done, calling `on_done` for each (and `on_tick`
        at every poll, about every `POLL_S`)."""
        store = LocalStore(self.store_root)
        pool = self._processes()
        while self._tasks:
            if on_tick is not None:
                on_tick()
            results = pool.results(timeout=POLL_S) if self.stop_requested() is None else []
            signum = self.stop_requested()
            ended: list[Key] = []  # by the signal that stops the run (a Ctrl-C reaches the whole group)
            for result in results:
                if signum is not None and not isinstance(result, Finished):
                    ended.append(result.key)
                    continue
                if isinstance(result, Overran) and result.key not in self._redelivered:
                    self._redeliver(pool, result.key, result.limit_s)
                    continue
                manifest, attempt = self._tasks.pop(result.key)
                on_done(self._settle(store, manifest, result.key[1], attempt, result))
            if signum is not None:
                self.interrupt(signum, ended)

    def longest_running(self) -> tuple[RunManifest, int, float] | None:
        """The shard that has run longest in the pool now: its run's manifest, its id, its seconds."""
        if self._pool is None:
            return None
        running = [(seconds, key) for key, seconds in self._pool.running() if key in self._tasks]
        if not running:
            return None
        seconds, key = max(running)
        return self._tasks[key][0], key[1], seconds

    def _redeliver(self, pool: ProcessPool[Key], key: Key, limit_s: float) -> None:
        """Run a shard whose process was killed past its budget once more, with the same attempt."""
        self._redelivered.add(key)
        manifest, attempt = self._tasks[key]
        pool.submit(key, manifest.task_factory().event_json(key[1], attempt), limit_s)

    def _settle(
        self, store: LocalStore, manifest: RunManifest, shard_id: int, attempt: int, result: Result[Key]
    ) -> ShardDone:
        size = manifest.plan.shard(shard_id).size
        if isinstance(result, Finished):
            answer: dict[str, Any] = result.value
            done = size if answer.get("duplicate") else answer.get("points_ok", size) + answer.get("points_failed", 0)
            return ShardDone(shard_id, done, answer.get("points_failed", 0), failed=answer["status"] != "success")
        if isinstance(result, Overran):
            budget_s = result.limit_s - OVERRUN_GRACE_S
            more = max(int(budget_s * 2), int(budget_s) + 1)
            message = (
                f"the shard ran past its time budget twice and its local worker process was ended "
                f"{budget_s:g} s + {OVERRUN_GRACE_S:g} s after it started, the second "
                "time with its points in child processes: a point ignores the budget's alarm "
                "(signal.alarm(0), `except BaseException`) or its process could not write its rows. "
                f"Raise `shard_time_budget_s`{' or use a smaller shard_size' if size > 1 else ''}, then "
                f"`sweep retry {manifest.run_id} --set shard_time_budget_s={more}`."
            )
            self._record(store, manifest, [(shard_id, attempt)], ErrorCode.TIME_BUDGET, message)
            return ShardDone(shard_id, size, 0, failed=True)
        if isinstance(result, Died):
            message = (
                f"the local worker process running this shard died ({result.how}): out of memory, os._exit, or "
                f"a crash in native code. `sweep retry {manifest.run_id}` runs its points in child processes and "
                "records the point that ends its process as an error."
            )
        else:
            message = f"the worker raised {result.message}"
        self._record(store, manifest, [(shard_id, attempt)], ErrorCode.WORKER_CRASHED, message)
        return ShardDone(shard_id, size, 0, failed=True)

    def interrupt(self, signum: int, ended: Sequence[Key] = ()) -> None:
        """End the pool's processes, record the shards they did not finish as `INTERRUPTED`, and
        raise `RunInterrupted`. The processes end before anything is recorded, so no shard can
        succeed after its `INTERRUPTED` outcome is written."""
        unfinished = [*ended, *(self._pool.stop() if self._pool is not None else [])]
        store = LocalStore(self.store_root)
        by_run: dict[str, tuple[RunManifest, list[ShardRef]]] = {}
        for key in unfinished:
            manifest, attempt = self._tasks.pop(key)
            by_run.setdefault(manifest.run_id, (manifest, []))[1].append((key[1], attempt))
        for run_id, (manifest, refs) in by_run.items():
            message = (
                f"the run was interrupted ({_signal_name(signum)}) before this shard finished; "
                f"`sweep retry {run_id} --out {self.store_root}` runs it again."
            )
            self._record(store, manifest, refs, ErrorCode.INTERRUPTED, message)
        raise RunInterrupted(signum, sorted(by_run), len(unfinished))

    @staticmethod
    def _record(store: LocalStore, manifest: RunManifest, refs: list[ShardRef], code: ErrorCode, message: str) -> None:
        size = manifest.plan.shard
        failures = [ShardFailure(shard_id, attempt, size(shard_id).size, code, message) for shard_id, attempt in refs]
        record_failures(store, manifest.run_id, failures, datetime.now(UTC))

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def local_runtime(
    store_root: Path, workers: int, settings: SystemSettings, *, on_lambda: bool = False
) -> tuple[Runtime, PoolDispatcher]:
    """`on_lambda`: plan as a stage would (`sweep plan --stage`), with its estimate and refusals."""
    dispatcher = PoolDispatcher(store_root, workers)
    runtime = Runtime(
        store=LocalStore(store_root), dispatcher=dispatcher, settings=lambda: settings, on_lambda=on_lambda
    )
    return runtime, dispatcher
