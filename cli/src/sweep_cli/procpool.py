"""A process pool that knows which task each process is running, so a process that dies fails
only its own task, and is replaced.

Why not a library pool: `concurrent.futures.ProcessPoolExecutor` marks itself broken when any of
its processes dies and fails every pending future with `BrokenProcessPool`; it also queues tasks
ahead into a shared call queue, so it cannot say which task the dead process was running.
`multiprocessing.Pool` replaces a dead process but loses its task: the result never arrives and
the caller waits forever. Here every process has its own pipe and its own queue of at most
`AHEAD` + 1 tasks, answered in order: the first is the one it runs, so the task of a dead process
is known exactly, the ones queued behind it (never started) go to other processes, and every other
task runs on. Queueing one task ahead spares a process the wait for the parent between two tasks."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)

STOP = None
"""Sent to a process to ask it to exit after its current task."""


@dataclass(frozen=True)
class Finished(Generic[K]):
    """The task returned `value`."""

    key: K
    value: Any


@dataclass(frozen=True)
class Raised(Generic[K]):
    """The task raised; `message` names the exception."""

    key: K
    message: str


@dataclass(frozen=True)
class Died(Generic[K]):
    """The process running the task died; `exitcode` is negative for a signal."""

    key: K
    exitcode: int | None

    @property
    def how(self) -> str:
        """'exit code 70' or 'signal SIGKILL'."""
        code = self.exitcode
        if code is None:
            return "exit status unknown"
        if code >= 0:
            return f"exit code {code}"
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"


Result = Finished[K] | Raised[K] | Died[K]


AHEAD = 1
"""Tasks sent to a process beyond the one it runs, so that it starts the next without waiting."""


@dataclass
class _Process(Generic[K]):
    process: BaseProcess
    conn: Connection
    tasks: deque[tuple[K, Any]] = field(default_factory=deque)
    """Sent and not answered, in order: the first is running, the others wait in its pipe."""
    broken: bool = False
    """A send failed: it gets nothing more; its end-of-file is read by `results`."""

    @property
    def task(self) -> K | None:
        """The task it is running."""
        return self.tasks[0][0] if self.tasks else None


@dataclass
class ProcessPool(Generic[K]):
    """`submit` queues tasks; `results` hands each queued task to an idle process (starting up to
    `size` of them) and returns the results that arrive. `serve(conn, *args)` runs in each process:
    it answers every payload it receives with `("ok", value)` or `("raised", message)`, and returns
    on `STOP` or when the pipe closes."""

    size: int
    context: ForkServerContext | SpawnContext
    serve: Callable[..., None]
    args: tuple[Any, ...] = ()
    _queue: deque[tuple[K, Any]] = field(default_factory=deque)
    _processes: list[_Process[K]] = field(default_factory=list)

    def submit(self, key: K, payload: Any) -> None:
        self._queue.append((key, payload))

    def _start(self) -> _Process[K]:
        parent, child = self.context.Pipe()
        # daemonic: should the parent exit without `stop`, multiprocessing's exit hook ends them
        process = self.context.Process(target=self.serve, args=(child, *self.args), daemon=True)
        process.start()
        child.close()
        started = _Process[K](process, parent)
        self._processes.append(started)
        return started

    def _assign(self) -> None:
        """Hand queued tasks out: first one to each idle process (starting processes up to `size`),
        then one more ahead to each busy one while more tasks wait than there are processes (the
        last ones go to whichever process is free first)."""
        for depth in range(AHEAD + 1):
            for worker in [p for p in self._processes if len(p.tasks) == depth and not p.broken]:
                if not self._queue or (depth and len(self._queue) <= len(self._processes)):
                    return
                self._send(worker)
            while depth == 0 and self._queue and len(self._processes) < self.size:
                self._send(self._start())

    def _send(self, worker: _Process[K]) -> None:
        key, payload = self._queue.popleft()
        try:
            worker.conn.send(payload)
        except OSError:  # it died: the task goes to another process
            self._queue.appendleft((key, payload))
            worker.broken = True
            if not worker.tasks:  # died idle: nothing lost, a new one starts when needed
                self._discard(worker)
            return
        worker.tasks.append((key, payload))

    def results(self, timeout: float) -> list[Result[K]]:
        """Results that arrive within `timeout` seconds (an empty list if none did).

        A process is dead when its pipe reports end-of-file: every copy of its end is closed. Not
        the process sentinel, which under forkserver is a socket to the fork server: it reads as
        "exited" when the fork server dies (a hangup reaches it too), though its children live on.
        The task it was running is `Died`; those queued behind it go back to the queue's front."""
        self._assign()
        if not any(p.tasks for p in self._processes):
            return []
        by_conn: dict[Any, _Process[K]] = {p.conn: p for p in self._processes}
        found: list[Result[K]] = []
        for conn in wait(list(by_conn), timeout):
            worker = by_conn[conn]
            try:
                kind, value = worker.conn.recv()
            except (EOFError, OSError):
                self._discard(worker)
                if worker.tasks:
                    key, _ = worker.tasks.popleft()
                    found.append(Died(key, worker.process.exitcode))
                    self._queue.extendleft(reversed(worker.tasks))
                continue
            if worker.tasks:
                key, _ = worker.tasks.popleft()
                found.append(Finished(key, value) if kind == "ok" else Raised(key, str(value)))
        return found

    def _discard(self, worker: _Process[K]) -> None:
        """Forget a process whose pipe is closed (its exit code is learnt if the fork server can tell)."""
        worker.process.join(timeout=1)
        worker.conn.close()
        self._processes.remove(worker)

    def stop(self, grace_s: float = 2.0) -> list[K]:
        """End every process now and return the keys of the tasks that did not finish: the running
        ones first, then the queued ones (which never started). When it returns, every process is gone."""
        unfinished = [p.task for p in self._processes if p.task is not None]
        unfinished.extend(key for p in self._processes for key, _ in list(p.tasks)[1:])
        unfinished.extend(key for key, _ in self._queue)
        self._queue.clear()
        for p in self._processes:
            _signal(p, signal.SIGTERM)
        self._reap(grace_s)
        return unfinished

    def close(self, grace_s: float = 5.0) -> None:
        """Ask idle processes to exit and wait for them; any still running a task are ended."""
        self._queue.clear()
        for p in self._processes:
            if not p.tasks:
                with contextlib.suppress(OSError):
                    p.conn.send(STOP)
            else:
                _signal(p, signal.SIGTERM)
        self._reap(grace_s)

    def _reap(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        for p in self._processes:
            if not _closed(p.conn, deadline):
                _signal(p, signal.SIGKILL)
                _closed(p.conn, time.monotonic() + KILL_WAIT_S)
            p.process.join(timeout=0.1)
            p.conn.close()
        self._processes.clear()


KILL_WAIT_S = 5.0


def _signal(worker: _Process[Any], number: int) -> None:
    # by pid, not `terminate()`: that does nothing once a dead fork server made the process look exited
    if worker.process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, number)


def _closed(conn: Connection, deadline: float) -> bool:
    """Wait until the other end of `conn` is closed (its process is gone), dropping what it sends."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not conn.poll(left):
            return False
        try:
            conn.recv()
        except (EOFError, OSError):
            return True
