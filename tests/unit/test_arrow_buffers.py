"""The worker builds its Arrow arrays from buffers: the same arrays `pyarrow.array` gives, without
the pandas import `pyarrow.array` triggers on its first call (~0.6 s per local pool process)."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from sweep_worker._arrow import numbers, same_text, strings


@pytest.mark.parametrize(
    "values", [["a", None, "é", "", 'q"uote'], [], [None, None], ["only"]], ids=["mixed", "empty", "nulls", "one"]
)
def test_strings_equal_what_pyarrow_array_gives(values: list[str | None]) -> None:
    built = strings(values)
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.string()))


def test_numbers_and_repeated_text() -> None:
    assert numbers([1, -2], pa.int32()).equals(pa.array([1, -2], pa.int32()))
    assert numbers([1.5, 0.1], pa.float64()).equals(pa.array([1.5, 0.1], pa.float64()))
    assert same_text("ok", 3).equals(pa.array(["ok"] * 3, pa.string()))
    assert same_text(None, 2).equals(pa.array([None, None], pa.string()))


SHARD = """
import sys
from sweep_contracts.experiments import Registry
from sweep_contracts.storage import MemoryStore
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import tasks_for

payload = {"experiment": "synthetic", "config": {"fail_rate": 0.3}, "grid": {"x": [0.1, 0.2, 0.3], "y": [1, 2]}}
deps = WorkerDeps(store=MemoryStore(), registry=Registry.default())
assert process_event(tasks_for(payload, "no-pandas").event(0), deps)["status"] == "success"
print("pandas" in sys.modules)
"""


def test_a_shard_does_not_import_pandas() -> None:
    # GIVEN pandas installed (the CLI's dependency) WHEN a worker process runs a shard, errors included
    answer = subprocess.run([sys.executable, "-c", SHARD], capture_output=True, text=True, timeout=120, check=True)
    # THEN it never imported pandas
    assert answer.stdout.strip() == "False"
