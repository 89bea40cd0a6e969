"""Running a shard's points in a child process, to learn which point kills its process.

A point that ends its process (`os._exit`, a segfault in native code, the OOM killer) cannot
report an error: the shard dies with it, and a plain retry dies at the same point again. After
such a crash the worker runs the points in a forked child that sends each row as it finishes;
when the child dies, the point after its last row is the culprit. It becomes an `error` row and
a fresh child goes on from the next point, so one retry completes the shard.

`os.fork` with a pipe, not a `multiprocessing` pool: it works on Lambda (which has no
`/dev/shm` for multiprocessing's queues and semaphores) and from a daemonic local pool process,
and one fork per crash is all it costs."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from sweep_worker import capture
from sweep_worker.row import PointRow

RunFrom = Callable[[int, Callable[[PointRow], None]], str | None]
"""`run_from(index, emit)`: evaluate points from `index`, `emit` each row; returns a stop message or None."""

_PR_SET_PDEATHSIG = 1


class IsolationError(RuntimeError):
    """The child process failed in sweep's own code, not in the experiment."""


GRACE_S = 1.0
"""How long past the time budget the parent waits before it ends a child stuck in native code."""


def describe_exit(status: int) -> str:
    """'exit code 70' or 'signal SIGSEGV', from a `waitpid` status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"signal {signal.Signals(number).name}"
        except ValueError:
            return f"signal {number}"
    return f"exit code {os.WEXITSTATUS(status)}"


def _die_with_parent(parent: int) -> None:
    """The child must not outlive its parent (ended by the runtime or by Ctrl-C on a local run)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _child(conn: Connection, start: int, run_from: RunFrom, parent: int) -> None:
    code = 0
    try:
        _die_with_parent(parent)
        capture.after_fork()
        stopped = run_from(start, lambda row: conn.send(("row", row)))
        conn.send(("end", stopped))
    except Exception as exc:
        # not the experiment's error (evaluate_points captures those): sweep's own; the parent
        # fails the shard with it rather than blame the point, and the traceback goes to the log
        traceback.print_exc()
        with contextlib.suppress(Exception):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        code = 1
    except BaseException as exc:
        # SystemExit or the like, raised through a point (`sys.exit()` in experiment code): the
        # point ended its process as `os._exit` would, so no report; the parent blames the point
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) and exc.code else 1
    finally:
        # os._exit skips the interpreter's shutdown: flush what the experiment printed (the log)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _fork() -> int:
    with warnings.catch_warnings():
        # Python 3.12 warns that forking a multi-threaded process may deadlock the child. The
        # threads here are idle pools (pyarrow, boto3); the child only runs the experiment and
        # writes to a pipe, and never touches what those threads might have locked.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def run_isolated(
    start: int,
    stop: int,
    run_from: RunFrom,
    on_row: Callable[[PointRow], None],
    on_crash: Callable[[int, str, float], None],
    time_left_s: Callable[[], float],
) -> str | None:
    """Run `run_from` from `start` in forked children until the points up to `stop` are done or it
    stops early. Each row reaches `on_row`; for a point that killed its child,
    `on_crash(index, how, duration_ms)` is called. Returns the stop message, if any."""
    index = start
    while index < stop:
        receive, send = Pipe(duplex=False)
        parent = os.getpid()
        pid = _fork()
        if pid == 0:
            receive.close()
            _child(send, index, run_from, parent)
        send.close()
        try:
            index, ended, stopped, last_at = _follow(receive, index, on_row, time_left_s, pid)
        finally:
            receive.close()
            _, status = os.waitpid(pid, 0)
        if ended or stopped is not None or index >= stop:  # done, or stuck past the budget and ended
            return stopped
        on_crash(index, describe_exit(status), (time.perf_counter() - last_at) * 1000)
        index += 1
    return None


def _follow(
    conn: Connection, index: int, on_row: Callable[[PointRow], None], time_left_s: Callable[[], float], pid: int
) -> tuple[int, bool, str | None, float]:
    """Read the child's rows: (the next index, whether it ended normally, its stop message, when
    the last row arrived)."""
    last_at = time.perf_counter()
    while True:
        if not conn.poll(max(0.0, time_left_s()) + GRACE_S):
            os.kill(pid, signal.SIGKILL)
            return index, False, f"point {index} ran past the time budget and was ended. ", last_at
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            return index, False, None, last_at
        if kind == "end":
            return index, True, value, last_at
        if kind == "failed":
            raise IsolationError(f"the child process evaluating point {index} failed: {value}")
        on_row(value)
        index, last_at = value.point_index + 1, time.perf_counter()
