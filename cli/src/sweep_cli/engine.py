"""The local engine: the orchestrator core with a process-pool dispatcher running the worker handler."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sweep_cli import _pool
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.dispatch import DispatchReport, ShardRef
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.runtime import Runtime


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


class PoolDispatcher:
    """Dispatches shard tasks to a process pool; `wait()` then reports each shard as it finishes.

    The pool starts on the first dispatch, so a request that fails validation starts nothing.
    A worker process that dies (out of memory, a crash in C code) breaks the pool: its shard and
    every shard still queued get a `WORKER_CRASHED` outcome, so nothing is silently lost."""

    def __init__(self, store_root: Path, workers: int) -> None:
        self.store_root = Path(store_root)
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future[dict[str, Any]], tuple[RunManifest, ShardRef]] = {}
        self.points_dispatched = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload([_pool.__name__, *_pool.PRELOAD])
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_pool.init_process,
                initargs=(str(self.store_root),),
            )
        return self._pool

    def dispatch(self, manifest: RunManifest, shards: Sequence[ShardRef]) -> DispatchReport:
        pool = self._executor()
        factory = manifest.task_factory()
        for shard_id, attempt in shards:
            future = pool.submit(_pool.run_task, factory.event_json(shard_id, attempt))
            self._futures[future] = (manifest, (shard_id, attempt))
            self.points_dispatched += manifest.plan.shard(shard_id).size
        return DispatchReport(dispatched=len(shards))

    def wait(self, on_done: Callable[[ShardDone], None]) -> None:
        """Block until every dispatched shard is done, calling `on_done` for each."""
        store = LocalStore(self.store_root)
        for future in as_completed(list(self._futures)):
            manifest, (shard_id, attempt) = self._futures.pop(future)
            size = manifest.plan.shard(shard_id).size
            try:
                result = future.result()
            except BrokenProcessPool:
                message = (
                    "a local worker process died (out of memory, or a crash in native code) before the shard finished"
                )
                self._lost(store, manifest, shard_id, attempt, message)
                on_done(ShardDone(shard_id, size, 0, failed=True))
                continue
            except Exception as exc:
                message = f"the worker raised {type(exc).__name__}: {exc}"
                self._lost(store, manifest, shard_id, attempt, message)
                on_done(ShardDone(shard_id, size, 0, failed=True))
                continue
            done = result.get("points_ok", size) + result.get("points_failed", 0)
            if result.get("duplicate"):
                done = size
            on_done(ShardDone(shard_id, done, result.get("points_failed", 0), failed=result["status"] != "success"))

    @staticmethod
    def _lost(store: LocalStore, manifest: RunManifest, shard_id: int, attempt: int, message: str) -> None:
        size = manifest.plan.shard(shard_id).size
        failure = ShardFailure(shard_id, attempt, size, ErrorCode.WORKER_CRASHED, message)
        record_failures(store, manifest.run_id, [failure], datetime.now(UTC))

    def shutdown(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


def local_runtime(store_root: Path, workers: int, settings: SystemSettings) -> tuple[Runtime, PoolDispatcher]:
    dispatcher = PoolDispatcher(store_root, workers)
    return Runtime(store=LocalStore(store_root), dispatcher=dispatcher, settings=lambda: settings), dispatcher
