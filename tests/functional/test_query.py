"""DuckDB views over the storage layout return exactly what the workers wrote; the summary SQL adds up."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from sweep_cli.errors import QueryError
from sweep_cli.results.query import ResultsDB, summary_sql
from sweep_contracts.storage import LocalStore
from tests.helpers import run_sweep

SWEEP: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "syn-1",
    "config": {"y": -0.2, "noise": 0.05},
    "grids": [{"name": "A", "axes": {"x": [0.0, 0.3, 0.6]}}, {"name": "B", "axes": {"y": [0.0, 1.0]}}],
    "repeats": 4,
    "shard_size": 7,
}


@pytest.fixture
def db(tmp_path: Path) -> ResultsDB:
    run_sweep(SWEEP, LocalStore(tmp_path))
    run_sweep({**SWEEP, "run_id": "other-run", "config": {"y": 5.0}}, LocalStore(tmp_path))
    return ResultsDB(tmp_path, "syn-1")


def test_points_view_holds_every_point_of_the_run_once(db: ResultsDB) -> None:
    rows = db.query(
        "SELECT run_id, point_index, series, repeat, params['x'], status FROM points ORDER BY point_index"
    ).rows
    assert len(rows) == 20
    assert [r[1] for r in rows] == list(range(20))
    assert {r[0] for r in rows} == {"syn-1"}  # the view is scoped to its run
    assert rows[4] == ("syn-1", 4, "A", 0, "0.3", "ok")
    assert rows[12][2:4] == ("B", 0)


def test_outcomes_view_has_one_success_per_shard(db: ResultsDB) -> None:
    rows = db.query("SELECT shard_id, status, points_total, points_ok FROM outcomes ORDER BY shard_id").rows
    assert rows == [(0, "success", 7, 7), (1, "success", 7, 7), (2, "success", 6, 6)]


def test_config_json_is_the_effective_config(db: ResultsDB) -> None:
    (row,) = db.query("SELECT config_json FROM points WHERE point_index = 13").rows
    assert row[0] == '{"noise":0.05,"seed":1,"y":0.0}'


def test_summary_matches_a_hand_computation(db: ResultsDB) -> None:
    values = db.query("SELECT series, point_index, metrics['value'], params FROM points ORDER BY point_index").rows
    summary = db.query(summary_sql("value", "max", 4))
    assert summary.columns == ["series", "points", "errors", "mean", "min", "max", "best_params", "best_value"]
    by_series = {r[0]: r for r in summary.rows}
    for series in ("A", "B"):
        metric = [v for s, _, v, _ in values if s == series]
        row = by_series[series]
        assert row[1:3] == (len(metric), 0)
        assert row[3] == pytest.approx(statistics.mean(metric))
        assert (row[4], row[5]) == (min(metric), max(metric))
    # best point: the mean over its 4 repeats is highest at x=0.3 (the optimum)
    assert by_series["A"][6] == {"x": "0.3"}
    a_means = [statistics.mean(v for s, i, v, _ in values if s == "A" and i // 4 == base) for base in range(3)]
    assert by_series["A"][7] == pytest.approx(max(a_means))
    assert [r[0] for r in summary.rows] == ["A", "B"]  # series in sweep order


def test_a_run_with_nothing_written_has_empty_typed_views(tmp_path: Path) -> None:
    empty = ResultsDB(tmp_path, "nothing-yet")
    assert empty.query("SELECT count(*) FROM points").rows == [(0,)]
    assert empty.query("SELECT count(*) FROM outcomes WHERE status = 'failure'").rows == [(0,)]
    assert empty.metric_names() == []


def test_a_bad_query_is_a_query_error_naming_the_views(db: ResultsDB) -> None:
    with pytest.raises(QueryError) as info:
        db.query("SELECT nope FROM points")
    assert info.value.message.startswith('the query failed: Binder Error: Referenced column "nope" not found')
    assert "the views are `points` and `outcomes`" in (info.value.hint or "")


def test_records_says_whether_any_point_recorded_a_metric(db: ResultsDB) -> None:
    # the summary asks this of `latency_ms` (a run that called a model gets its per-option table)
    assert db.records("value")
    assert not db.records("latency_ms")
    assert not db.records("it's")  # quoted as a literal, not spliced into the SQL
