"""The shard's time budget: stop before the runtime kills us, keeping a margin to write results."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any


class PointInterrupted(BaseException):
    """The running point overran what was left of the time budget and was interrupted."""


class TimeBudget:
    """Milliseconds left before the shard must stop, the margin for writing results excluded.

    `remaining_ms` is the runtime's clock (Lambda's `context.get_remaining_time_in_millis`);
    the estimate of the next point's cost is a running average of the points so far, each timed
    with `timer` (seconds on a monotonic clock; tests pass a fake one)."""

    def __init__(
        self, remaining_ms: Callable[[], float], margin_ms: float, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._remaining_ms = remaining_ms
        self.margin_ms = margin_ms
        self.timer = timer
        self._average_ms: float | None = None
        self.fixed_s: float | None = None
        """The setting `shard_time_budget_s` when it set this budget; None when the runtime's clock did."""

    @classmethod
    def fixed(
        cls,
        seconds: float,
        margin_ms: float,
        clock: Callable[[], float] = time.monotonic,
        timer: Callable[[], float] = time.perf_counter,
    ) -> TimeBudget:
        """A budget of `seconds` from now, for runtimes that give none."""
        deadline = clock() + seconds
        budget = cls(lambda: (deadline - clock()) * 1000, margin_ms, timer)
        budget.fixed_s = seconds
        return budget

    @property
    def average_ms(self) -> float | None:
        """The running average cost of a point so far; None before the first."""
        return self._average_ms

    def left_ms(self) -> float:
        return self._remaining_ms() - self.margin_ms

    def record(self, duration_ms: float, count: int = 1) -> None:
        """`count` points that took `duration_ms` each (as many calls with one point would)."""
        avg = self._average_ms
        for _ in range(count):
            avg = duration_ms if avg is None else 0.8 * avg + 0.2 * duration_ms
        self._average_ms = avg

    def allows_next(self) -> bool:
        """Whether another point fits: what is left exceeds 1.5x the running average cost."""
        return self.left_ms() > 1.5 * (self._average_ms or 0.0)


class PointAlarm:
    """Interrupts a point that overruns the budget: `arm(ms)` before it, `disarm()` after; or
    `arm(ms)` once for a shard, with `inside` set only while a point runs (one timer, not two
    system calls per point).

    Uses SIGALRM, so it works in the main thread on POSIX (Lambda, the local process pool);
    elsewhere it does nothing and the between-points check is the only guard. Pure-Python code
    is interrupted promptly; a long call into C code is interrupted when it returns."""

    def __init__(self) -> None:
        self.usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        self._previous: Any = None
        self.inside = True
        """Whether a point is running. Armed once for a whole shard, the alarm interrupts only a
        point: clear this between points, and a deadline that passes there sets `expired` instead."""
        self.expired = False

    def _fired(self, signum: int, frame: FrameType | None) -> None:
        if self.inside:
            raise PointInterrupted
        self.expired = True

    def __enter__(self) -> PointAlarm:
        if self.usable:
            self._previous = signal.signal(signal.SIGALRM, self._fired)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)

    def arm(self, ms: float) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, max(ms, 1.0) / 1000)

    def disarm(self) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
