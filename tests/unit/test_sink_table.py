"""`PointRows.to_table` is built once for the Parquet file and the outcome's tally, and built
again when a row is added or the execution changes (the cache may never serve stale rows)."""

from __future__ import annotations

from sweep_worker.sink import PointRows


def _add(rows: PointRows, index: int, series: str) -> None:
    rows.add(
        point_index=index, series=series, repeat=0, params={"x": "1"}, metrics={"v": 1.0},
        error=None, duration_ms=0.01, config_json="{}", finished_at_ms=0,
    )  # fmt: skip


def test_the_table_is_reused_until_a_row_or_the_execution_changes() -> None:
    rows = PointRows(0)
    _add(rows, 0, "a")
    first = rows.to_table()
    assert rows.to_table() is first
    _add(rows, 1, "b")
    assert rows.to_table().num_rows == 2
    assert set(rows.tally() or {}) == {"a", "b"}
    rows.execution = "0123456789abcdef"
    assert rows.to_table().column("execution").to_pylist() == ["0123456789abcdef"] * 2
