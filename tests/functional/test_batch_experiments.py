"""An experiment with `run_batch` gets chunks of points and writes the rows `run` gives, point for
point: error rows for invalid configs and non-finite metrics, a chunk that raises run point by
point, the time budget kept (issue 13)."""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Sequence
from typing import Any, Literal

import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, Field, model_validator

from sweep_contracts.batch import ConfigBatch
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.storage import MemoryStore
from sweep_contracts.tasks import TaskFactory
from sweep_experiments.synthetic import EXPERIMENT, run_batch
from sweep_worker.runner import WorkerDeps, process_event
from sweep_worker.sink import PointRows
from sweep_worker.texts import BLOCK_MIN
from tests.helpers import tasks_for, vouched_points_key

RUN = "batch-run"
PER_RUN_COLUMNS = ("duration_ms", "finished_at", "execution")
"""What differs between any two runs of a shard (timings, the execution's id)."""


class Ratio(BaseModel):
    a: float
    b: float = 1.0
    seed: int = 0

    @model_validator(mode="after")
    def b_is_not_a(self) -> Ratio:  # a rule on a combination: only a point can break it
        if self.a == self.b:
            raise ValueError("a and b must differ")
        return self


def ratio(cfg: Ratio) -> dict[str, float]:
    if cfg.a < 0:
        raise ArithmeticError(f"negative a={cfg.a}")
    return {"r": cfg.a / (cfg.a - cfg.b) if cfg.a != 2 else math.nan, "seed": cfg.seed}


calls: list[int] = []


def ratio_batch(configs: Sequence[Ratio]) -> list[dict[str, float]]:
    calls.append(len(configs))
    if any(c.a < 0 for c in configs):
        raise ArithmeticError("a negative a: the chunk runs point by point")
    return [{"r": c.a / (c.a - c.b) if c.a != 2 else math.nan, "seed": c.seed} for c in configs]


PER_POINT = Experiment(name="ratio", config_model=Ratio, run=ratio)
BATCHED = dataclasses.replace(PER_POINT, run_batch=ratio_batch)
SYNTHETIC = dataclasses.replace(EXPERIMENT, run_batch=run_batch)


def rows(experiment: Experiment[Any], factory: TaskFactory) -> list[dict[str, Any]]:
    store = MemoryStore()
    deps = WorkerDeps(store=store, registry=Registry([experiment]))
    for shard in range(factory.plan.shard_count):
        process_event(factory.event(shard), deps)
    found = []
    for shard in range(factory.plan.shard_count):
        key = vouched_points_key(store, RUN, shard)
        assert key is not None
        found += pq.read_table(io.BytesIO(store.get(key) or b"")).to_pylist()
    return [{k: v for k, v in row.items() if k not in PER_RUN_COLUMNS} for row in found]


def test_batched_rows_equal_per_point_rows_errors_included() -> None:
    # GIVEN a shard of 250 points with ok points, an invalid combination (a == b) and a NaN metric (a == 2)
    values = [0.5, 1.0, 2.0, 3.0, 4.0]
    payload = {"experiment": "ratio", "config": {"b": 1.0}, "grid": {"a": values}, "repeats": 50}
    factory = tasks_for(payload, RUN, 250)
    calls.clear()
    # WHEN it runs with run_batch and without
    batched, per_point = rows(BATCHED, factory), rows(PER_POINT, factory)
    # THEN run_batch took the valid points, in chunks, and the rows are the same, error rows included
    assert sum(calls) == 200
    assert max(calls) > 1
    assert batched == per_point
    statuses = {(row["params"][0][1], row["status"], row["error_type"]) for row in batched}
    assert statuses == {
        ("0.5", "ok", None),
        ("1.0", "error", "ConfigError"),
        ("2.0", "error", "ValueError"),
        ("3.0", "ok", None),
        ("4.0", "ok", None),
    }


def test_a_chunk_that_raises_runs_point_by_point() -> None:
    # GIVEN a raising point (a < 0) among ok ones
    payload = {"experiment": "ratio", "config": {"b": 1.0}, "grid": {"a": [0.5, -1.0, 3.0]}, "repeats": 20}
    factory = tasks_for(payload, RUN, 60)
    calls.clear()
    batched = rows(BATCHED, factory)
    # THEN each point still gets its own row: the raising one its error, the others their metrics
    assert calls
    assert batched == rows(PER_POINT, factory)
    assert [row["error_type"] for row in batched].count("ArithmeticError") == 20


def test_synthetic_batches_give_the_rows_of_its_run() -> None:
    # GIVEN a plain synthetic grid and the same experiment without run_batch
    payload = {"experiment": "synthetic", "config": {"noise": 0.0}, "grid": {"x": [0.1, 0.35], "y": [0.0, -0.2]}}
    factory = tasks_for({**payload, "repeats": 40}, RUN, 80)
    # THEN both give the same rows
    assert rows(SYNTHETIC, factory) == rows(dataclasses.replace(SYNTHETIC, run_batch=None), factory)
    # AND a chunk it cannot batch (injected failures) runs point by point to the same rows
    failing = tasks_for({**payload, "config": {"fail_rate": 0.5}, "repeats": 10}, RUN, 40)
    assert rows(SYNTHETIC, failing) == rows(dataclasses.replace(SYNTHETIC, run_batch=None), failing)


def test_a_batched_shard_keeps_its_time_budget() -> None:
    # GIVEN batched points of 20 ms each and a 1 s budget for 200 of them
    def slow_batch(configs: Sequence[Ratio]) -> list[dict[str, float]]:
        import time

        time.sleep(0.02 * len(configs))
        return [{"r": 0.0} for _ in configs]

    experiment = dataclasses.replace(PER_POINT, run_batch=slow_batch)
    payload = {"experiment": "ratio", "config": {"b": -1.0}, "grid": {"a": list(range(200))}}
    factory = tasks_for(payload, RUN, 200, {"shard_time_budget_s": 1, "time_budget_margin_ms": 0})
    store = MemoryStore()
    result = process_event(factory.event(0), WorkerDeps(store=store, registry=Registry([experiment])))
    # THEN the shard stops within its budget and says how many points were not run
    assert result["status"] == "failure"
    assert result["error_code"] == "TIME_BUDGET"
    assert 0 < result["points_ok"] < 200


class Mixed(BaseModel):
    """Validated field by field: its grid points' rows are built column-wise (sweep_worker.columns)."""

    rate: float = Field(default=0.1, ge=0)
    name: str = "a"
    mode: Literal["fast", "slow"] = "fast"
    flag: bool | None = None
    size: int = 1
    seed: int = 0


def mixed(cfg: Mixed) -> dict[str, float]:
    if cfg.size == 3:
        return {"v": math.inf}  # not a finite number: an error row
    return {"v": cfg.rate * cfg.size + cfg.seed, "n": float(len(cfg.name))}


def mixed_batch(configs: Sequence[Mixed]) -> list[dict[str, float]]:
    return [mixed(c) for c in configs]


MIXED = Experiment(name="mixed", config_model=Mixed, run=mixed)


def mixed_sweep(config: dict[str, Any]) -> dict[str, Any]:
    """Two grids whose axes take text with quotes, unicode, booleans, null, integers and floats, with
    repeats, one value that fails validation (rate -1.0) and one point with no finite metric (size 3)."""
    return {
        "experiment": "mixed",
        "config": config,
        "grids": [
            {"name": "A", "axes": {"rate": [0, 0.5, 1e-7], "mode": ["fast", "slow"], "flag": [True, None]}},
            {"name": "B", "axes": {"size": [1, 2, 3], "rate": [2.5, -1.0]}},
        ],
        "repeats": 40,
    }


def count_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the blocks whose rows are built column-wise, as they are added."""
    blocks: list[int] = []
    add_columns = PointRows.add_columns

    def counted(self: PointRows, count: int, columns: Any) -> None:
        blocks.append(count)
        add_columns(self, count, columns)

    monkeypatch.setattr(PointRows, "add_columns", counted)
    return blocks


def test_rows_built_column_wise_equal_the_point_by_point_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN grids whose axes take text with quotes, unicode, booleans, null, integers and floats,
    # a config seed and repeats, one value that fails validation, and one point with no finite metric
    factory = tasks_for(mixed_sweep({"name": 'qu"ote é', "seed": 7}), RUN, 300)
    blocks = count_blocks(monkeypatch)
    # WHEN the shards run with run_batch and without
    batched = rows(dataclasses.replace(MIXED, run_batch=mixed_batch), factory)
    per_point = rows(MIXED, factory)
    # THEN some blocks became rows column-wise, and every row is the same, errors included
    assert sum(blocks) >= BLOCK_MIN
    assert batched == per_point
    errors = {(row["error_type"], dict(row["params"])["rate"]) for row in batched if row["status"] == "error"}
    assert errors == {("ConfigError", "-1.0"), ("ValueError", "2.5")}


def mixed_columns(configs: Sequence[Mixed]) -> dict[str, Any]:
    """`mixed` as metric columns, read field by field (`ConfigBatch.column`), `v` as a numpy array."""
    import numpy as np

    batch = ConfigBatch.of(configs)
    rate, size, seed = (np.array(batch.column(name), dtype=float) for name in ("rate", "size", "seed"))
    return {"v": np.where(size == 3, np.inf, rate * size + seed), "n": [float(len(n)) for n in batch.column("name")]}


def test_metric_columns_give_the_rows_of_run_errors_included(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the mixed grids (an invalid value, a point with an infinite metric) and a run_batch
    # that answers with metric columns, one of them a numpy array
    factory = tasks_for(mixed_sweep({"name": "ab", "seed": 3}), RUN, 300)
    blocks = count_blocks(monkeypatch)
    batched = rows(dataclasses.replace(MIXED, run_batch=mixed_columns), factory)
    # THEN grid A's blocks became rows from the columns, and the rows are those of `run` point by
    # point: the invalid value and the infinite metric are each their point's error, every other
    # point has both metrics
    assert sum(blocks) >= BLOCK_MIN
    assert batched == rows(MIXED, factory)


def test_a_plain_synthetic_grid_is_evaluated_without_a_config_object_per_point(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a synthetic grid large enough for blocks, in one shard
    payload = {
        "experiment": "synthetic",
        "config": {"seed": 5},
        "grid": {"x": [i / 40 for i in range(40)], "y": [-0.2, 0.0, 0.7]},
        "repeats": 20,
    }
    factory = tasks_for(payload, RUN, 2400)
    built: list[int] = []
    all_configs = ConfigBatch._all

    def counted(self: ConfigBatch[Any]) -> list[Any]:
        if self._configs is None:
            built.append(len(self))
        return all_configs(self)

    monkeypatch.setattr(ConfigBatch, "_all", counted)
    # WHEN it runs with run_batch (metric columns from field columns)
    batched = rows(SYNTHETIC, factory)
    # THEN no batch built its configs, and the rows are `run`'s, point for point
    assert built == []
    assert batched == rows(dataclasses.replace(SYNTHETIC, run_batch=None), factory)
    assert len(batched) == 2400


class Shaped(BaseModel):
    """Axis values that validate to tuples and frozensets: still shared between points."""

    pair: tuple[int, int] = (0, 0)
    tags: frozenset[str] = frozenset()
    seed: int = 0


def shaped(cfg: Shaped) -> dict[str, float]:
    return {"v": float(cfg.pair[0] * 10 + cfg.pair[1] + len(cfg.tags) + cfg.seed)}


def shaped_columns(configs: Sequence[Shaped]) -> dict[str, list[float]]:
    batch = ConfigBatch.of(configs)
    columns = zip(batch.column("pair"), batch.column("tags"), batch.column("seed"), strict=True)
    return {"v": [float(p[0] * 10 + p[1] + len(t) + s) for p, t, s in columns]}


def test_tuple_and_frozenset_axis_values_reach_run_batch_as_run_gets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN axes whose values validate to tuples (of the axis's own length, too) and frozensets
    payload = {
        "experiment": "shaped",
        "config": {"seed": 1},
        "grid": {"pair": [[1, 2], [3, 4]], "tags": [["a"], ["a", "b"], []]},
        "repeats": 60,
    }
    factory = tasks_for(payload, RUN, 360)
    blocks = count_blocks(monkeypatch)
    per_point = Experiment(name="shaped", config_model=Shaped, run=shaped)
    batched = rows(dataclasses.replace(per_point, run_batch=shaped_columns), factory)
    # THEN the rows came from blocks, and are the rows `run` gives point by point
    assert sum(blocks) >= BLOCK_MIN
    assert batched == rows(per_point, factory)
