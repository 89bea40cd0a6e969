"""How `sweep run` and `sweep retry` end on a signal while the local pool runs.

Ctrl-C (once or twice), SIGTERM and SIGHUP all end a run the same way: finished shards are kept,
the pool's processes are ended and reaped, every unfinished shard gets an `INTERRUPTED` outcome
(so `sweep status` never shows the run `running` forever, and `sweep retry` reruns them), and the
command exits 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM) without a traceback."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from sweep_cli import render
from sweep_cli.local.engine import RunInterrupted

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopSignals:
    """While active, a stop signal is only noted (`received`); the pool's loop acts on it. The
    handlers raise nothing, so a second Ctrl-C cannot interrupt the cleanup the first one began."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    def first(self) -> int | None:
        return self.received

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()


def explain(stop: RunInterrupted, out: Path) -> None:
    """What a signal stopped, and how to resume, on stderr."""
    render.err.print(f"\n{stop}; finished shards are kept.")
    if stop.unfinished:
        render.err.print(f"{stop.unfinished:,} unfinished shards were recorded as INTERRUPTED.")
    for run_id in stop.run_ids:
        render.err.print(f"Resume with: sweep retry {run_id} --out {out}")
