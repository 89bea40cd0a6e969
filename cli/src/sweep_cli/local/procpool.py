"""A process pool that knows which task each process is running, so a process that dies fails
only its own task, and is replaced.

Why not a library pool: `concurrent.futures.ProcessPoolExecutor` marks itself broken when any of
its processes dies and fails every pending future with `BrokenProcessPool`; it also queues tasks
ahead into a shared call queue, so it cannot say which task the dead process was running.
`multiprocessing.Pool` replaces a dead process but loses its task: the result never arrives and
the caller waits forever. Here every process has its own pipe and its own queue of at most
`AHEAD` + 1 tasks, answered in order: the first is the one it runs, so the task of a dead process
is known exactly, the ones queued behind it (never started) go to other processes, and every other
task runs on. Queueing one task ahead spares a process the wait for the parent between two tasks.

The pool does not rely on a task's cooperation (issue 20, item 10):
- a task may have a time limit: the parent knows when each process started its task, and ends the
  process once the limit has passed (`Overran`), whatever the task does with signals;
- a process's death is learnt from its pid (a pidfd, Linux ≥ 5.3), not only from its pipe, which a
  child the task forked (a server started with `fork`) keeps open for as long as it lives;
- each process leads its own session, so what a task leaves behind (forked children, their
  children) is in the process's group, and the group is killed when the process is discarded,
  stopped or closed. A descendant that starts a session of its own (a daemon's double fork) leaves
  the group and is out of reach."""

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


@dataclass(frozen=True)
class Overran(Generic[K]):
    """The task ran past its time limit (`limit_s`, from when its process started it): the
    process and everything in its group were killed."""

    key: K
    limit_s: float


Result = Finished[K] | Raised[K] | Died[K] | Overran[K]


AHEAD = 1
"""Tasks sent to a process beyond the one it runs, so that it starts the next without waiting."""


Task = tuple[Any, Any, float | None]
"""(key, payload, time limit in seconds or None)."""


@dataclass(eq=False)  # one process is equal only to itself
class _Process(Generic[K]):
    process: BaseProcess
    conn: Connection
    pidfd: int | None = None
    """Readable once the process has exited (None where pidfds are not available)."""
    tasks: deque[Task] = field(default_factory=deque)
    """Sent and not answered, in order: the first is running, the others wait in its pipe."""
    broken: bool = False
    """A send failed: it gets nothing more; its end-of-file is read by `results`."""
    since: float = 0.0
    """When (monotonic) it started the task it is running, as far as the parent can tell: when
    the task was sent to it idle, or when the answer to the one before it arrived."""

    @property
    def deadline(self) -> float | None:
        """When the running task's time limit passes; None without a running task or a limit."""
        if not self.tasks or self.tasks[0][2] is None:
            return None
        return self.since + self.tasks[0][2]

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
    _queue: deque[Task] = field(default_factory=deque)
    _processes: list[_Process[K]] = field(default_factory=list)

    def submit(self, key: K, payload: Any, limit_s: float | None = None) -> None:
        """Queue a task; with `limit_s`, its process is killed once it has run it that long."""
        self._queue.append((key, payload, limit_s))

    def _start(self) -> _Process[K]:
        parent, child = self.context.Pipe()
        # daemonic: should the parent exit without `stop`, multiprocessing's exit hook ends them
        process = self.context.Process(target=_own_session, args=(self.serve, child, *self.args), daemon=True)
        process.start()
        child.close()
        started = _Process[K](process, parent, _pidfd(process.pid))
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
        task = self._queue.popleft()
        try:
            worker.conn.send(task[1])
        except OSError:  # it died: the task goes to another process
            self._queue.appendleft(task)
            worker.broken = True
            if not worker.tasks:  # died idle: nothing lost, a new one starts when needed
                self._discard(worker)
            return
        if not worker.tasks:
            worker.since = time.monotonic()
        worker.tasks.append(task)

    def _next(self, worker: _Process[K]) -> K:
        """Pop the running task's key: the one queued behind it (if any) starts now."""
        key: K = worker.tasks.popleft()[0]
        worker.since = time.monotonic()
        return key

    def results(self, timeout: float) -> list[Result[K]]:
        """Results that arrive within `timeout` seconds (an empty list if none did).

        A process is dead when its pidfd says it exited, or when its pipe reports end-of-file. Not
        the process sentinel, which under forkserver is a socket to the fork server: it reads as
        "exited" when the fork server dies (a hangup reaches it too), though its children live on.
        The task it was running is `Died` (`Overran` past its limit); those queued behind it go
        back to the queue's front."""
        self._assign()
        if not any(p.tasks for p in self._processes):
            return []
        by_handle: dict[Any, _Process[K]] = {p.conn: p for p in self._processes}
        by_handle.update({p.pidfd: p for p in self._processes if p.pidfd is not None})
        deadlines = [d for p in self._processes if (d := p.deadline) is not None]
        if deadlines:
            timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        found: list[Result[K]] = []
        for handle in wait(list(by_handle), timeout):
            worker = by_handle[handle]
            if worker not in self._processes:  # its pipe and its pidfd were both ready
                continue
            if handle is worker.conn:
                self._receive(worker, found)
            else:  # it exited: an answer it sent first still counts
                while worker in self._processes and worker.conn.poll(0):
                    self._receive(worker, found)
                if worker in self._processes:
                    self._lost(worker, found, None)
        now = time.monotonic()
        for worker in [p for p in self._processes if (d := p.deadline) is not None and d <= now]:
            self._lost(worker, found, worker.tasks[0][2] or 0.0)
        return found

    def _receive(self, worker: _Process[K], found: list[Result[K]]) -> None:
        try:
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker, found, None)
            return
        if worker.tasks:
            key = self._next(worker)
            found.append(Finished(key, value) if kind == "ok" else Raised(key, str(value)))

    def _lost(self, worker: _Process[K], found: list[Result[K]], limit_s: float | None) -> None:
        """The process died (`limit_s` None) or overran its task's limit: kill it and its group,
        fail its running task and put the ones queued behind it back at the queue's front."""
        _signal(worker, signal.SIGKILL)
        _gone(worker, time.monotonic() + KILL_WAIT_S)
        self._discard(worker)
        if worker.tasks:
            key = worker.tasks.popleft()[0]
            found.append(Died(key, worker.process.exitcode) if limit_s is None else Overran(key, limit_s))
            self._queue.extendleft(reversed(worker.tasks))

    def _discard(self, worker: _Process[K]) -> None:
        """Forget a process that is gone (its exit code is learnt if the fork server can tell), and
        kill what it left in its group."""
        worker.process.join(timeout=1)
        _signal(worker, signal.SIGKILL)
        worker.conn.close()
        if worker.pidfd is not None:
            os.close(worker.pidfd)
            worker.pidfd = None
        self._processes.remove(worker)

    def running(self) -> list[tuple[K, float]]:
        """The tasks the processes are running, each with how many seconds it has run."""
        now = time.monotonic()
        return [(worker.tasks[0][0], now - worker.since) for worker in self._processes if worker.tasks]

    def stop(self, grace_s: float = 2.0) -> list[K]:
        """End every process now and return the keys of the tasks that did not finish: the running
        ones first, then the queued ones (which never started). When it returns, every process is gone."""
        unfinished = [p.task for p in self._processes if p.task is not None]
        unfinished.extend(task[0] for p in self._processes for task in list(p.tasks)[1:])
        unfinished.extend(task[0] for task in self._queue)
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
            if not _gone(p, deadline):
                _signal(p, signal.SIGKILL)
                _gone(p, time.monotonic() + KILL_WAIT_S)
            p.process.join(timeout=0.1)
            _signal(p, signal.SIGKILL)  # what its tasks left behind in its group
            p.conn.close()
            if p.pidfd is not None:
                os.close(p.pidfd)
        self._processes.clear()


KILL_WAIT_S = 5.0


def _own_session(serve: Callable[..., None], conn: Connection, *args: Any) -> None:
    """A pool process: the leader of a new session and process group, whose id is its pid, so
    `_signal` reaches every process a task starts (and Ctrl-C at the terminal reaches only the
    parent, which ends the pool itself)."""
    os.setsid()
    serve(conn, *args)


def _pidfd(pid: int | None) -> int | None:
    """A descriptor that becomes readable when process `pid` exits (it need not be our child:
    pool processes are the fork server's). None where the system has none."""
    if pid is None or not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # already gone (then its pipe says so), or a kernel before 5.3
        return None


def _signal(worker: _Process[Any], number: int) -> None:
    """Signal the process's group (it and what its tasks started), or the process alone if it has
    not made its group yet. By pid, not `terminate()`: that does nothing once a dead fork server
    made the process look exited. A group outlives its leader while any member lives, and its id
    is not reused until then."""
    pid = worker.process.pid
    if pid is None:
        return
    try:
        os.killpg(pid, number)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)
    except PermissionError:  # a stranger's group: the pid was reused
        pass


def _gone(worker: _Process[Any], deadline: float) -> bool:
    """Wait until the process has exited: by its pidfd, else by the end of its pipe (dropping what it sends)."""
    if worker.pidfd is not None:
        return bool(wait([worker.pidfd], max(0.0, deadline - time.monotonic())))
    conn = worker.conn
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not conn.poll(left):
            return False
        try:
            conn.recv()
        except (EOFError, OSError):
            return True
