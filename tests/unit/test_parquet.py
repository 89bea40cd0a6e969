"""Outcome files: pyarrow, DuckDB and sweep's own reader read the same columns from what sweep
writes; sweep reads plain files other writers make, and refuses the rest by name."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep_contracts._parquet import write_flat
from sweep_contracts._parquet_read import read_flat
from sweep_contracts._thrift import decode_struct, encode_struct
from sweep_contracts.errors import ParquetFormatError
from sweep_contracts.outcomes import ErrorCode, Outcome
from sweep_contracts.schema import OUTCOMES_TABLE

T0 = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "shard_id": st.integers(0, 2**31 - 1),
            "attempt": st.integers(1, 100),
            "status": st.sampled_from(["success", "failure"]),
            "points_total": st.integers(0, 10**6),
            "points_ok": st.integers(0, 10**6),
            "points_failed": st.integers(0, 10**6),
            "error_code": st.one_of(st.none(), st.sampled_from([c.value for c in ErrorCode])),
            "error_message": st.one_of(st.none(), st.text(max_size=300)),
            "started_at": st.integers(0, 10**9).map(lambda ms: T0 + timedelta(milliseconds=ms)),
            "finished_at": st.just(T0),
            "duration_ms": st.floats(0, 1e9, allow_nan=False),
            "request_id": st.one_of(st.none(), st.text(min_size=1, max_size=40)),
            "execution": st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)),
        }
    ),
    min_size=1,
    max_size=40,
)


@given(rows=rows_strategy)
@settings(max_examples=60, deadline=None)
def test_pyarrow_reads_back_exactly_what_was_written(rows: list[dict[str, object]]) -> None:
    data = write_flat(OUTCOMES_TABLE, rows)
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == OUTCOMES_TABLE.column_names
    assert table.to_pylist() == rows
    assert read_flat(data) == rows


def test_duckdb_reads_it_with_the_declared_types(tmp_path: Path) -> None:
    row = {
        "shard_id": 3,
        "attempt": 2,
        "status": "failure",
        "points_total": 10,
        "points_ok": 4,
        "points_failed": 1,
        "error_code": "TIME_BUDGET",
        "error_message": "ünïcode — fine",
        "started_at": T0,
        "finished_at": T0,
        "duration_ms": 1.5,
        "request_id": None,
        "execution": "0123456789abcdef",
    }
    path = tmp_path / "o.parquet"
    path.write_bytes(write_flat(OUTCOMES_TABLE, [row]))
    con = duckdb.connect()
    types = dict(con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()[i][:2] for i in range(13))
    assert types == {c.name: c.duckdb_type for c in OUTCOMES_TABLE.columns}
    got = con.execute(f"SELECT shard_id, error_message, request_id, started_at::VARCHAR FROM '{path}'").fetchall()
    assert got == [(3, "ünïcode — fine", None, "2026-01-02 03:04:05.123+00")]


def test_outcome_round_trips_through_parquet() -> None:
    outcome = Outcome.failure(
        run_id="run-1",
        shard_id=7,
        code=ErrorCode.DISPATCH_FAILED,
        message="throttled",
        points_total=25,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        attempt=3,
    )
    again = Outcome.from_parquet(outcome.to_parquet(), "run-1")
    assert again == outcome
    assert again.key == "outcomes/run_id=run-1/status=failure/shard=00007.parquet"


def test_non_nullable_column_without_value_is_refused() -> None:
    row = {c.name: None for c in OUTCOMES_TABLE.columns}
    with pytest.raises(ValueError, match="column `shard_id` is not nullable"):
        write_flat(OUTCOMES_TABLE, [row])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not parquet at all", "this is not a Parquet file"),
        (b"PAR1" + b"\x00" * 8 + b"\xff\xff\x00\x00PAR1", "does not fit"),
    ],
)
def test_damaged_files_are_reported(data: bytes, message: str) -> None:
    with pytest.raises(ParquetFormatError, match=message):
        read_flat(data)


def test_timestamps_before_the_epoch_round_down_to_the_millisecond() -> None:
    # GIVEN a start half a millisecond before the last millisecond of 1969
    row = {c.name: 0 for c in OUTCOMES_TABLE.columns} | {"status": "success", "error_code": None}
    row |= {"error_message": None, "request_id": None, "execution": None, "duration_ms": 0.0}
    row |= {"started_at": datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC), "finished_at": T0}
    # WHEN it is written
    data = write_flat(OUTCOMES_TABLE, [row])
    # THEN every reader sees 23:59:59.999 (floor), not 1970-01-01T00:00:00 (toward zero)
    expected = datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert pq.read_table(io.BytesIO(data)).column("started_at").to_pylist() == [expected]
    assert read_flat(data)[0]["started_at"] == expected


def test_thrift_compact_round_trip() -> None:
    value = {
        1: ("i32", -5),
        2: ("i64", 2**40),
        3: ("bin", b"abc"),
        4: ("bool", True),
        5: ("bool", False),
        20: ("struct", {1: ("list", "i32", list(range(20)))}),
        21: ("list", "struct", [{1: ("bin", b"k")}]),
    }
    assert decode_struct(encode_struct(value)) == {
        1: -5,
        2: 2**40,
        3: b"abc",
        4: True,
        5: False,
        20: {1: list(range(20))},
        21: [{1: b"k"}],
    }
