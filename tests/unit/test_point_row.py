"""`PointRow`: what `RowBuilder` makes is an immutable `PointRow` like one made by its constructor, and
`finished_at` is read from the clock it was given (issue 24, item 1)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from sweep_worker.row import PointRow, RowBuilder, millis, wall_clock

TEXTS = ("grid", 1, ["x"], ["0.5"], '{"x":0.5}', {"x": 0.5})
NOW = datetime(2026, 11, 21, 12, 0, 0, 250_999, tzinfo=UTC)


def test_a_built_row_is_a_frozen_point_row_equal_to_a_constructed_one() -> None:
    # GIVEN a builder with a secret and a fixed clock
    build = RowBuilder({"key": "s3cr3t-value"}, clock=lambda: NOW)
    # WHEN it builds a row whose output echoes the secret
    row = build.row(5, TEXTS, ({"v": 1.0}, None, "said s3cr3t-value", {"a": 1}, None), 2.5, "printed")
    # THEN it is a PointRow, equal to one its constructor makes, frozen, and it survives a pipe (pickle)
    expected = PointRow(
        5, "grid", 1, ["x"], ["0.5"], {"v": 1.0}, None, 2.5, '{"x":0.5}', 1_795_262_400_250,
        "said [secret `key`]", '{"a":1}', None, "printed",
    )  # fmt: skip
    assert (type(row), row) == (PointRow, expected)
    with pytest.raises(AttributeError):
        row.series = "other"  # type: ignore[misc]
    assert not hasattr(row, "__dict__")
    assert pickle.loads(pickle.dumps(row)) == expected


def test_finished_at_is_the_clocks_whole_milliseconds() -> None:
    # GIVEN a fixed clock 250.999 ms past a second, and the wall clock
    # WHEN each is read as milliseconds
    # THEN the fixed one is cut to 250 ms, exactly; the wall clock's is now
    assert millis(lambda: NOW)() == 1_795_262_400_250
    before = int(datetime.now(UTC).timestamp() * 1000)
    assert before - 1 <= millis(wall_clock)() <= int(datetime.now(UTC).timestamp() * 1000) + 1
