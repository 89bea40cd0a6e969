"""What every benchmark shares: its result, how it is listed, interleaved runs and their medians."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweep_cli.local.engine import local_runtime
from sweep_contracts.settings import SystemSettings
from sweep_orchestrator.submit import submit_run

WORKERS = 2


@dataclass
class Result:
    name: str
    command: str
    target: str
    figures: dict[str, Any] = field(default_factory=dict)
    met: bool | None = None


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: how to run it, and the one line of its figures the summary table shows."""

    run: Callable[[Path, int], Result]
    headline: Callable[[dict[str, Any]], str]


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def rounded(runs: list[float]) -> list[float]:
    return [round(r, 3) for r in runs]


def interleaved(repeats: int, **candidates: Callable[[], float]) -> dict[str, list[float]]:
    """Run each candidate `repeats` times, round-robin, and return every measurement."""
    out: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            out[name].append(fn())
    return out


def engine_run(out: Path, payload: dict[str, Any], workers: int = WORKERS) -> float:
    """The local engine as `sweep run` drives it: submit (validate, plan, manifest), dispatch to the
    process pool, wait for every shard."""
    settings = SystemSettings.resolve({}, source="default")
    started = time.perf_counter()
    runtime, dispatcher = local_runtime(out, workers, settings)
    try:
        submit_run(payload, runtime)
        dispatcher.wait(lambda done: None)
    finally:
        dispatcher.shutdown()
    return time.perf_counter() - started


def fresh(tmp: Path, name: str) -> Path:
    path = tmp / name
    shutil.rmtree(path, ignore_errors=True)
    return path
