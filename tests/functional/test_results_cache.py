"""A finished run's views copied into one file each (`sweep_cli.results.cache`, issue 23 item 14): the
copy holds exactly what the views over the store hold, a retried shard leaves it unused, `sweep rm`
removes it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_cli.report.page import write_report
from sweep_cli.results.query import ResultsDB
from sweep_contracts import layout
from sweep_contracts.outcomes import ErrorCode, Outcome, record_outcome
from sweep_contracts.storage import LocalStore
from sweep_worker.sink import PointRows
from tests.report_runs import write_run

PAYLOAD = {
    "experiment": "synthetic",
    "run_id": "copied",
    "config": {"noise": 0.0},
    "grid": {"x": [0.0, 0.5], "echo": ["a", "b", "c"]},
    "shard_size": 2,
}


def views(db: ResultsDB) -> dict[str, Any]:
    """Everything a reader can see of the two views: columns, types and rows."""
    return {
        name: (db.query(f"DESCRIBE {name}").rows, db.query(f"SELECT * FROM {name} ORDER BY ALL").rows)
        for name in ("points", "outcomes")
    }


def copies(out: Path) -> list[str]:
    return sorted(p.name for p in (out / layout.cache_prefix("copied")).glob("*"))


def open_db(out: Path) -> ResultsDB:
    return ResultsDB(out, "copied")


def test_a_finished_runs_report_copies_its_views_and_later_readers_use_them_23(tmp_path: Path) -> None:
    # GIVEN a finished run of 3 shards, and what its views over the store hold
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    db = open_db(tmp_path)
    before = views(db)
    db.close()
    assert not db.copied
    # WHEN its report is written
    write_report(tmp_path, "copied", tmp_path / "r.html", [])
    # THEN both views are copied, one file each, named for the files they were built from
    found = copies(tmp_path)
    assert [name.split("-")[0] for name in found] == ["outcomes", "points"]
    # AND a later reader reads the copies, and sees exactly what the views over the store showed
    db = open_db(tmp_path)
    try:
        assert db.copied
        assert views(db) == before
    finally:
        db.close()


def retry_shard_0(out: Path, value: float) -> None:
    """Shard 0 runs again under a new execution and records its success, as the worker does."""
    store = LocalStore(out)
    tag = layout.execution_tag("00000000000000ff", 2, 0)
    rows = PointRows(0, tag)
    for index in (0, 1):
        rows.add(
            point_index=index,
            series="default",
            repeat=0,
            params={"x": "0.0", "echo": "ab"[index]},
            metrics={"value": value},
            error=None,
            duration_ms=0.01,
            config_json="{}",
            finished_at_ms=0,
        )
    store.put(layout.points_key("copied", 0, tag), rows.to_parquet())
    now = datetime.now(UTC)
    success = Outcome(
        run_id="copied", shard_id=0, attempt=2, status="success", points_total=2, points_ok=2,
        started_at=now, finished_at=now, duration_ms=1.0, execution=tag,
    )  # fmt: skip
    assert record_outcome(store, success)


def fail_shard_0(out: Path) -> None:
    """Shard 0's first attempt failed: its outcome is a failure and it has no points."""
    store = LocalStore(out)
    for key in store.list(layout.shard_points_prefix("copied", 0)):
        store.delete(key)
    store.delete(layout.outcome_key("copied", "success", 0))
    now = datetime.now(UTC)
    failure = Outcome(
        run_id="copied", shard_id=0, status="failure", points_total=2, error_code=ErrorCode.WORKER_CRASHED,
        error_message="the process died", started_at=now, finished_at=now, duration_ms=1.0,
        execution=layout.execution_tag("00000000000000aa", 0, 0),
    )  # fmt: skip
    store.put(failure.key, failure.to_parquet())


def test_a_retried_shard_leaves_the_copy_unused_and_the_next_report_replaces_it_23(tmp_path: Path) -> None:
    # GIVEN a finished run whose shard 0 failed, reported (so its views are copied)
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    fail_shard_0(tmp_path)
    write_report(tmp_path, "copied", tmp_path / "r.html", [])
    first = copies(tmp_path)
    db = open_db(tmp_path)
    assert db.copied
    assert db.query("SELECT count(*) FROM points WHERE shard_id = 0").rows == [(0,)]
    db.close()
    # WHEN the shard is retried and succeeds
    retry_shard_0(tmp_path, 42.0)
    # THEN a reader does not use the copy: it reads the store, and sees the retry's rows and outcome
    db = open_db(tmp_path)
    try:
        assert not db.copied
        rows = db.query("SELECT point_index, metrics['value'] FROM points WHERE shard_id = 0 ORDER BY 1").rows
        assert rows == [(0, 42.0), (1, 42.0)]
        assert db.query("SELECT status, attempt FROM outcomes WHERE shard_id = 0").rows == [("success", 2)]
    finally:
        db.close()
    # AND the next report copies the views again and removes the copies that can no longer be used
    write_report(tmp_path, "copied", tmp_path / "r.html", [])
    second = copies(tmp_path)
    assert len(second) == 2
    assert not set(first) & set(second)


def test_a_running_run_is_not_copied_23(tmp_path: Path) -> None:
    # GIVEN a run whose shard 0 has no outcome yet
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    LocalStore(tmp_path).delete(layout.outcome_key("copied", "success", 0))
    # WHEN its report is written
    write_report(tmp_path, "copied", tmp_path / "r.html", [])
    # THEN nothing is copied: the run still changes with every shard
    assert copies(tmp_path) == []


def test_rm_removes_the_copies_23(tmp_path: Path) -> None:
    # GIVEN a reported run, whose views are copied
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    write_report(tmp_path, "copied", tmp_path / "r.html", [])
    assert len(copies(tmp_path)) == 2
    # WHEN it is removed
    result = CliRunner().invoke(app, ["rm", "copied", "--out", str(tmp_path), "--yes"])
    # THEN the copies go with it
    assert result.exit_code == 0, result.output
    assert copies(tmp_path) == []


def test_a_reader_that_asks_for_the_copy_builds_it_first_and_reads_it_23(tmp_path: Path) -> None:
    # GIVEN a finished run without a copy, and what its views over the store hold
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    db = open_db(tmp_path)
    before = views(db)
    db.close()
    # WHEN a reader opens it asking for the copy (as the report does)
    db = ResultsDB(tmp_path, "copied", copy=True)
    try:
        # THEN the copy is written before any query, and this very reader's views read it
        assert db.copied
        assert [name.split("-")[0] for name in copies(tmp_path)] == ["outcomes", "points"]
        assert views(db) == before
        db.cache_points()
        assert views(db) == before
    finally:
        db.close()


def test_a_directory_that_cannot_take_the_copy_is_read_from_the_store_23(tmp_path: Path) -> None:
    # GIVEN a finished run whose cache folder cannot be created (a file stands in its way)
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    db = open_db(tmp_path)
    before = views(db)
    db.close()
    (tmp_path / "cache").write_text("not a folder")
    # WHEN a reader asks for the copy
    db = ResultsDB(tmp_path, "copied", copy=True)
    try:
        # THEN it reads the store, as without a copy
        assert not db.copied
        assert views(db) == before
    finally:
        db.close()


def test_a_finished_runs_summary_copies_its_views_23(tmp_path: Path) -> None:
    # GIVEN a finished run without a copy
    write_run(tmp_path, PAYLOAD, lambda i, p: {"value": float(i)})
    # WHEN its summary is read, as at the end of `sweep run`
    from sweep_cli.local.backend import LocalBackend

    summary = LocalBackend(tmp_path).summary("copied", None)
    # THEN the views are copied, and a later reader reads the copy
    assert summary is not None
    assert [name.split("-")[0] for name in copies(tmp_path)] == ["outcomes", "points"]
    db = open_db(tmp_path)
    try:
        assert db.copied
    finally:
        db.close()
