"""Every way the worker runs a point gives that point the same row (issue 24, item 1): point by
point, in a `run_batch` chunk (row by row and column-wise), on a thread (I/O-bound), in an isolated
child process, and for a point that killed its process — with `finished_at` from the injected clock."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.storage import LocalStore, ObjectStore
from sweep_experiments.synthetic import SyntheticConfig, run, run_batch
from sweep_worker.runner import WorkerDeps, process_event
from sweep_worker.sink import PointRows
from sweep_worker.texts import BLOCK_MIN
from tests.functional.test_crash_isolation import RUN, in_child, previous_attempt
from tests.helpers import tasks_for, vouched_points_key

NOW = datetime(2026, 11, 21, 12, 0, 0, 250_000, tzinfo=UTC)
"""The injected wall clock: every row's `finished_at`, on every path."""
SIZE = BLOCK_MIN + 44
CRASH_AT = 7
PER_PATH = ("duration_ms", "log", "execution")
"""Columns that may differ between two runs of one point: its timing, and who ran it."""


def crashes_at_one_point(config: SyntheticConfig) -> dict[str, float]:
    if config.x == CRASH_AT / SIZE:
        os._exit(70)
    return run(config)


PATHS = {
    "point by point": Experiment("rows", SyntheticConfig, run),
    "batch (a row, then columns)": Experiment("batch", SyntheticConfig, run, run_batch=run_batch),
    "threads (I/O-bound)": Experiment("threads", SyntheticConfig, run, io_bound=True),
    "isolated, one point crashing": Experiment("isolated", SyntheticConfig, crashes_at_one_point),
}


def shard_rows(store: ObjectStore) -> pa.Table:
    key = vouched_points_key(store, RUN, 0)
    assert key is not None
    return pq.read_table(io.BytesIO(store.get(key) or b""))


def run_path(name: str, tmp_path: Path) -> pa.Table:
    experiment = PATHS[name]
    payload = {
        "experiment": experiment.name,
        "config": {"y": -0.2, "noise": 0.0},
        "grid": {"x": [i / SIZE for i in range(SIZE)]},
    }
    store = LocalStore(tmp_path / "store")
    deps = WorkerDeps(store, Registry([experiment]), clock=lambda: NOW)
    if experiment.name != "isolated":
        process_event(tasks_for(payload, RUN).event(0), deps)
        return shard_rows(store)
    previous_attempt(store, ErrorCode.WORKER_CRASHED, size=SIZE)  # attempt 2 isolates its points
    in_child(lambda: process_event(tasks_for(payload, RUN).event(0, attempt=2), deps), tmp_path / "answer.json")
    return shard_rows(store)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    return {name: run_path(name, tmp_path_factory.mktemp("path")) for name in PATHS}


def test_every_path_gives_a_point_the_same_row(tables: dict[str, pa.Table]) -> None:
    # GIVEN the same shard of a grid's points run by every path
    # WHEN their rows are read back
    by_path = {name: {row["point_index"]: row for row in table.to_pylist()} for name, table in tables.items()}
    # THEN the tables have one schema, every point a row, and each point the same row on every path,
    # but for its timing and log (and the crashed point's result)
    assert len({table.schema for table in tables.values()}) == 1
    reference = by_path["point by point"]
    assert sorted(reference) == list(range(SIZE))
    for name, rows in by_path.items():
        assert sorted(rows) == list(range(SIZE)), name
        for index, row in rows.items():
            theirs = {k: v for k, v in row.items() if k not in PER_PATH}
            ours = {k: v for k, v in reference[index].items() if k not in PER_PATH}
            if name.startswith("isolated") and index == CRASH_AT:
                ours |= {"status": "error", "error_type": ErrorCode.WORKER_CRASHED.value, "metrics": []}
                ours["error_message"] = theirs["error_message"]
            assert theirs == ours, (name, index)
    crashed = by_path["isolated, one point crashing"][CRASH_AT]["error_message"]
    assert crashed.startswith("the point ended its process (exit code 70)")


def test_a_batch_shard_gives_its_rows_column_wise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN the batch path, its column-wise appends counted
    column_wise: list[int] = []
    add_columns = PointRows.add_columns

    def counted(self: PointRows, count: int, columns: Any) -> None:
        column_wise.append(count)
        add_columns(self, count, columns)

    monkeypatch.setattr(PointRows, "add_columns", counted)
    # WHEN its shard runs
    table = run_path("batch (a row, then columns)", tmp_path)
    # THEN all but the first point (the chunk that times the experiment) came as one block of columns,
    # so the comparison above covers the column-wise rows
    assert (table.num_rows, column_wise) == (SIZE, [SIZE - 1])


def test_every_row_finishes_by_the_injected_clock(tables: dict[str, pa.Table]) -> None:
    # GIVEN a worker whose clock says NOW (and every path's rows)
    # WHEN each path's rows are read back
    finished = {name: set(table.column("finished_at").to_pylist()) for name, table in tables.items()}
    # THEN every row, on every path, finished at NOW: the clock is injected, not read from the system
    assert finished == {name: {NOW} for name in PATHS}
