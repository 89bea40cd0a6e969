"""A local run's pool session: how `sweep run` and `sweep retry` end on a signal.

Ctrl-C (once or twice), SIGTERM and SIGHUP all end a run the same way: finished shards are kept,
the pool's processes are ended and reaped, every unfinished shard gets an `INTERRUPTED` outcome
(so `sweep status` never shows the run `running` forever, and `sweep retry` reruns them), and the
command exits 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM) without a traceback."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import typer

from sweep_cli import render
from sweep_cli.engine import PoolDispatcher, RunInterrupted

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


@contextmanager
def pool_session(dispatcher: PoolDispatcher) -> Iterator[None]:
    """Run the block with stop signals noted; shut the pool down however the block ends."""
    with StopSignals() as signals:
        dispatcher.stop_requested = signals.first
        try:
            try:
                yield
                if signals.received is not None:  # arrived after the last shard finished
                    dispatcher.interrupt(signals.received)
            except RunInterrupted as stop:
                _explain(stop, dispatcher)
                raise typer.Exit(stop.exit_code) from None
        finally:
            dispatcher.shutdown()


def _explain(stop: RunInterrupted, dispatcher: PoolDispatcher) -> None:
    render.err.print(f"\n{stop}; finished shards are kept.")
    if stop.unfinished:
        render.err.print(f"{stop.unfinished:,} unfinished shards were recorded as INTERRUPTED.")
    for run_id in stop.run_ids:
        render.err.print(f"Resume with: sweep retry {run_id} --out {dispatcher.store_root}")
