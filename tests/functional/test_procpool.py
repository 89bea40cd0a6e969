"""The local pool queues one task ahead per process, and a process that dies still fails only the
task it was running: the one queued behind it runs elsewhere (issue 13)."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import pytest

from sweep_cli.local.procpool import Died, Finished, ProcessPool, Result

pytestmark = pytest.mark.slow  # starts process pools: not in `make test-fast`


def serve(conn: Connection) -> None:
    """A pool process: `("die", s)` exits after s seconds, anything else is answered with this pid."""
    while True:
        try:
            payload = conn.recv()
        except EOFError:
            return
        if payload is None:
            return
        kind, seconds = payload
        time.sleep(seconds)
        if kind == "die":
            os._exit(3)
        conn.send(("ok", os.getpid()))


def collect(pool: ProcessPool[str], expected: int) -> list[Result[str]]:
    found: list[Result[str]] = []
    deadline = time.monotonic() + 60
    while len(found) < expected and time.monotonic() < deadline:
        found.extend(pool.results(timeout=0.2))
    return found


def test_a_dead_process_fails_its_running_task_and_its_queued_one_runs_elsewhere() -> None:
    # GIVEN one process, a task that kills it after a moment, and three more tasks behind it
    pool: ProcessPool[str] = ProcessPool(1, multiprocessing.get_context("spawn"), serve)
    pool.submit("dies", ("die", 0.5))
    for key in ("b", "c", "d"):
        pool.submit(key, ("ok", 0.0))
    try:
        assert pool.results(timeout=0) == []
        # THEN the next task was sent ahead, into the running process's pipe
        assert [task[0] for task in pool._processes[0].tasks] == ["dies", "b"]
        # WHEN the process dies
        results = collect(pool, 4)
    finally:
        pool.close()
    # THEN only the task it ran failed; the one queued behind it ran in the new process, once
    by_key: dict[str, Any] = {r.key: r for r in results}
    assert len(results) == 4
    assert isinstance(by_key["dies"], Died)
    assert by_key["dies"].exitcode == 3
    assert all(isinstance(by_key[k], Finished) for k in "bcd")


def test_stop_names_the_running_then_the_queued_ahead_then_the_waiting_tasks() -> None:
    # GIVEN two processes each running a long task with one queued ahead, and one more waiting
    pool: ProcessPool[str] = ProcessPool(2, multiprocessing.get_context("spawn"), serve)
    for key in ("r1", "r2", "a1", "a2", "w"):
        pool.submit(key, ("ok", 30.0))
    pool.results(timeout=0)
    # WHEN the pool is stopped
    unfinished = pool.stop()
    # THEN every task is named once, the running ones first
    assert unfinished[:2] == ["r1", "r2"]
    assert sorted(unfinished) == ["a1", "a2", "r1", "r2", "w"]
    assert pool._processes == []
