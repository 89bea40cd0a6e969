"""The outcome file format, pinned by a golden file: the bytes sweep writes, read back by pyarrow,
DuckDB and sweep's own reader; and what `status` does with outcomes other writers made."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweep_contracts import layout
from sweep_contracts.errors import ParquetFormatError, StoreError
from sweep_contracts.outcomes import ErrorCode, Outcome, SeriesTally
from sweep_contracts.schema import OUTCOMES_TABLE
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.status import read_outcomes

GOLDEN = Path(__file__).parents[1] / "golden" / "outcome-failure.parquet"
OUTCOME = Outcome(
    run_id="golden-run",
    shard_id=12,
    attempt=2,
    status="failure",
    points_total=50,
    points_ok=30,
    points_failed=4,
    error_code=ErrorCode.TIME_BUDGET,
    error_message="stopped before the next point — ünïcode",
    started_at=datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
    finished_at=datetime(2026, 1, 2, 3, 5, 6, 789000, tzinfo=UTC),
    duration_ms=61666.0,
    execution="0123456789abcdef",  # added on purpose with the execution-keyed points (issue 8)
)
ROW: dict[str, Any] = OUTCOME.model_dump(exclude={"run_id"}) | {"error_code": "TIME_BUDGET"}


def test_the_writer_still_writes_the_golden_bytes() -> None:
    # GIVEN the outcome whose file was committed under tests/golden
    # WHEN it is written today
    # THEN the bytes are the same: a change to the format shows here first (and needs a new golden file)
    assert OUTCOME.to_parquet() == GOLDEN.read_bytes()


def test_pyarrow_reads_the_golden_file() -> None:
    table = pq.read_table(GOLDEN)
    assert table.column_names == OUTCOMES_TABLE.column_names
    assert table.to_pylist() == [ROW]
    assert pq.read_metadata(GOLDEN).metadata is None  # no second copy of the row in the footer


def test_duckdb_reads_the_golden_file_with_the_declared_types() -> None:
    con = duckdb.connect()
    described = con.execute(f"DESCRIBE SELECT * FROM '{GOLDEN}'").fetchall()
    assert {name: kind for name, kind, *_ in described} == {c.name: c.duckdb_type for c in OUTCOMES_TABLE.columns}
    got = con.execute(f"SELECT shard_id, error_message, started_at::VARCHAR FROM '{GOLDEN}'").fetchall()
    assert got == [(12, "stopped before the next point — ünïcode", "2026-01-02 03:04:05.123+00")]


def test_sweep_reads_the_golden_file_from_its_columns() -> None:
    assert Outcome.from_parquet(GOLDEN.read_bytes(), "golden-run") == OUTCOME


def _pyarrow_file(**options: Any) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pq.read_table(GOLDEN), buffer, **options)
    return buffer.getvalue()


def test_status_reads_an_outcome_that_pyarrow_wrote_plain() -> None:
    # GIVEN an outcome pyarrow wrote, uncompressed and without dictionaries, in the outcome's place
    store = MemoryStore()
    store.put(OUTCOME.key, _pyarrow_file(compression="none", use_dictionary=False))
    # WHEN status reads the run's outcomes
    outcomes = read_outcomes(store, "golden-run")
    # THEN it reads the same outcome sweep wrote
    assert outcomes == {12: OUTCOME}


@pytest.mark.parametrize(
    ("options", "feature"),
    [
        ({}, "is compressed (codec 1)"),
        ({"compression": "none"}, "not PLAIN"),
        ({"compression": "none", "use_dictionary": False, "data_page_version": "2.0"}, "v2 data page"),
    ],
)
def test_an_outcome_sweep_cannot_read_is_a_store_error_naming_its_key(options: dict[str, Any], feature: str) -> None:
    # GIVEN an outcome pyarrow wrote with a feature the reader does not decode
    store = MemoryStore()
    store.put(OUTCOME.key, _pyarrow_file(**options))
    # WHEN status reads the run's outcomes
    with pytest.raises(StoreError) as caught:
        read_outcomes(store, "golden-run")
    # THEN the error names the file, the feature, and what to write instead
    error = caught.value
    assert (error.field, error.value) == ("key", layout.outcome_key("golden-run", "failure", 12))
    assert f"the outcome `{OUTCOME.key}` in memory:// cannot be read: column `shard_id` " in error.message
    assert feature in error.message
    assert error.hint is not None
    assert "use_dictionary=False" in error.hint


def test_a_parquet_file_that_is_not_an_outcome_is_refused() -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": [1, 2]}), buffer, compression="none", use_dictionary=False)
    with pytest.raises(ParquetFormatError, match="an outcome file holds one row; this one holds 2"):
        Outcome.from_parquet(buffer.getvalue(), "golden-run")


def test_an_error_message_with_a_lone_surrogate_is_stored_visibly() -> None:
    # GIVEN a failure whose message quotes text with a lone surrogate (an error body, a file name)
    at = datetime(2026, 12, 7, tzinfo=UTC)
    outcome = Outcome.failure(
        run_id="r-1", shard_id=0, code=ErrorCode.INTERNAL_ERROR, message="body 42 \ud800 data-\udcff.csv",
        points_total=3, started_at=at, finished_at=at,
    )  # fmt: skip
    # WHEN it is written THEN it is recorded, and every reader sees the surrogates as escapes
    data = outcome.to_parquet()
    assert Outcome.from_parquet(data, "r-1").error_message == "body 42 \\ud800 data-\\udcff.csv"
    assert pq.read_table(io.BytesIO(data)).column("error_message").to_pylist() == ["body 42 \\ud800 data-\\udcff.csv"]


def test_an_outcome_carries_its_per_series_tally_and_old_files_still_read() -> None:
    # GIVEN an outcome with its points summed per series (what a search's trigger reads)
    tally = {"t00001": SeriesTally(ok=3, failed=1, sums={"score": 1.5}, counts={"score": 3})}
    tallied = OUTCOME.model_copy(update={"series": tally})
    # WHEN it is written and read back by sweep's reader and by pyarrow
    data = tallied.to_parquet()
    # THEN the tally survives, in its own column beside the outcomes table's
    assert Outcome.from_parquet(data, "golden-run").series == tally
    assert pq.read_table(io.BytesIO(data)).column_names == [*OUTCOMES_TABLE.column_names, "series_json"]
    # AND a file written before the tally existed (the golden one) reads with no tally
    assert Outcome.from_parquet(GOLDEN.read_bytes(), "golden-run").series is None
