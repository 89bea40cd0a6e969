"""The worker builds its Arrow arrays from buffers: the same arrays `pyarrow.array` gives, without
the pandas import `pyarrow.array` triggers on its first call (~0.6 s per local pool process; that a shard
imports no pandas is checked in a fresh process, tests/functional/test_cold_start.py)."""

from __future__ import annotations

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
