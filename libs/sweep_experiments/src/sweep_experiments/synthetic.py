"""`synthetic`: a near-zero-cost function with a known optimum, for benchmarks and demos.

`value = -((x - 0.3)² + (y + 0.2)²) + noise·N(0, 1)`, best at x=0.3, y=-0.2. It can also burn CPU
(`work` iterations), sleep (`sleep_ms`), fail on a seeded fraction of points (`fail_rate`) or
kill its process (`crash`), to exercise error capture, time budgets and crash handling without a
real workload.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from sweep_contracts.batch import ConfigBatch
from sweep_contracts.experiments import Experiment, Objective


class SyntheticConfig(BaseModel):
    """Settings of one synthetic evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float = 0.0
    y: float = 0.0
    noise: float = Field(default=0.0, ge=0.0, description="Standard deviation of added Gaussian noise.")
    fail_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Fraction of points that raise.")
    sleep_ms: float = Field(default=0.0, ge=0.0, le=600_000.0, description="Sleep per point.")
    work: int = Field(default=0, ge=0, le=100_000_000, description="Busy-loop iterations per point (CPU load).")
    crash: bool = Field(default=False, description="Exit the worker process abruptly (to exercise crash handling).")
    echo: str = Field(default="", max_length=10_000, description="Printed by every point (to exercise output capture).")
    seed: int = 0


class InjectedError(RuntimeError):
    """Raised on purpose for a `fail_rate` fraction of points."""


def run(cfg: SyntheticConfig) -> dict[str, float]:
    if cfg.echo:
        print(cfg.echo)
    if cfg.crash:
        os._exit(70)
    if cfg.sleep_ms:
        time.sleep(cfg.sleep_ms / 1000)
    acc = 0
    for i in range(cfg.work):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    value = -((cfg.x - 0.3) ** 2 + (cfg.y + 0.2) ** 2)
    if cfg.noise or cfg.fail_rate:
        rng = random.Random(f"{cfg.seed}:{cfg.x!r}:{cfg.y!r}")
        if rng.random() < cfg.fail_rate:
            raise InjectedError(
                f"injected failure at x={cfg.x}, y={cfg.y}, seed={cfg.seed} (fail_rate={cfg.fail_rate})"
            )
        value += cfg.noise * rng.gauss(0.0, 1.0)
    return {"value": value, "distance": ((cfg.x - 0.3) ** 2 + (cfg.y + 0.2) ** 2) ** 0.5, "checksum": float(acc % 997)}


class NotPlain(Exception):  # noqa: N818 - a signal to the worker, not an error a user sees
    """A chunk with noise, failures, sleeps, work, crashes or echoes: the worker runs it point by point."""


PLAIN = {"noise": 0.0, "fail_rate": 0.0, "sleep_ms": 0.0, "work": 0, "crash": False, "echo": ""}
"""The settings under which a point is only the formula."""


def run_batch(configs: Sequence[SyntheticConfig]) -> dict[str, list[float]]:
    """`run` for many plain points at once (only the formula), as metric columns: the rows are
    the ones `run` gives.

    It reads the fields as columns (`ConfigBatch.column`: no config object per point) and
    evaluates `run`'s own expression in a loop, not numpy, so every float is bit for bit `run`'s
    (numpy's `power` and `sqrt` need not round `** 2` and `** 0.5` as CPython does)."""
    batch = ConfigBatch.of(configs)
    for name, plain in PLAIN.items():
        if any(value != plain for value in set(batch.column(name))):
            raise NotPlain
    squares = [(x - 0.3) ** 2 + (y + 0.2) ** 2 for x, y in zip(batch.column("x"), batch.column("y"), strict=True)]
    return {"value": [-square for square in squares], "distance": [square**0.5 for square in squares],
            "checksum": [0.0] * len(squares)}  # fmt: skip


EXPERIMENT = Experiment(
    name="synthetic",
    config_model=SyntheticConfig,
    run=run,
    description="Near-zero-cost quadratic with optional noise, CPU work, sleeps and injected failures.",
    objective=Objective("value", "max"),
    metrics=("value", "distance", "checksum"),
    run_batch=run_batch,
)
