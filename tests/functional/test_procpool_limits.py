"""The local pool's own guards, which need no cooperation from a task (issue 20, item 10): a time
limit enforced by the parent, and a death learnt from the pid while a forked child holds the pipe."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from sweep_cli.local.procpool import Died, Finished, Overran, ProcessPool, Result

pytestmark = pytest.mark.slow  # starts process pools: not in `make test-fast`

WAIT_S = 60.0


def serve(conn: Connection) -> None:
    """`("stubborn", s)` ignores SIGTERM and SIGALRM and sleeps s seconds; `("fork-die", path)` forks a
    child that sleeps 60 s (its pid written to `path`) and exits; anything else is answered with this pid."""
    while True:
        try:
            payload = conn.recv()
        except EOFError:
            return
        if payload is None:
            return
        kind, arg = payload
        if kind == "stubborn":
            for number in (signal.SIGTERM, signal.SIGALRM):
                signal.signal(number, signal.SIG_IGN)
            time.sleep(arg)
        if kind == "fork-die":
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            with open(arg, "w") as f:
                f.write(str(pid))
            os._exit(3)
        conn.send(("ok", os.getpid()))


def collect(pool: ProcessPool[str], expected: int) -> list[Result[str]]:
    found: list[Result[str]] = []
    deadline = time.monotonic() + WAIT_S
    while len(found) < expected and time.monotonic() < deadline:
        found.extend(pool.results(timeout=0.2))
    return found


def test_a_task_past_its_limit_is_overran_and_the_one_queued_behind_it_runs_elsewhere() -> None:
    # GIVEN one process running a task that ignores signals and sleeps 40 s (limit 1 s), one task behind it
    pool: ProcessPool[str] = ProcessPool(1, multiprocessing.get_context("spawn"), serve)
    pool.submit("stubborn", ("stubborn", 40.0), 1.0)
    pool.submit("next", ("ok", 0.0), 1.0)
    try:
        results = collect(pool, 2)
    finally:
        pool.close()
    # THEN the stubborn task is `Overran` (not answered after 40 s), and the next one ran in a new process
    by_key: dict[str, Any] = {r.key: r for r in results}
    assert isinstance(by_key.get("stubborn"), Overran), results
    assert by_key["stubborn"].limit_s == 1.0
    assert isinstance(by_key.get("next"), Finished), results


def test_a_death_is_seen_while_a_forked_child_holds_the_pipe_and_the_child_is_killed(tmp_path: Path) -> None:
    # GIVEN a task that forks a child (which keeps the pool pipe open for 60 s) and then exits
    note = tmp_path / "child.pid"
    pool: ProcessPool[str] = ProcessPool(1, multiprocessing.get_context("spawn"), serve)
    pool.submit("dies", ("fork-die", str(note)))
    try:
        results = collect(pool, 1)
        # THEN its death is reported (exit code 3), and its child was killed with the process's group
        assert [(type(r), r.key) for r in results] == [(Died, "dies")]
        assert results[0].exitcode == 3  # type: ignore[union-attr]
        child = int(note.read_text())
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        pool.close()
        if note.exists() and _alive(int(note.read_text())):
            os.kill(int(note.read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
