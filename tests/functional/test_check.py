"""The invariant checker (`sweep status RUN_ID --check`): it passes on a clean run and names every
kind of broken invariant, locally and against a stage's bucket."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sweep_cli.check import check_run
from sweep_cli.main import app
from sweep_contracts import layout
from sweep_contracts.outcomes import Outcome
from sweep_contracts.storage import LocalStore, ObjectStore
from sweep_orchestrator.runs import load_manifest
from tests.cloud import Stage
from tests.helpers import assert_invariants, run_sweep, vouched_points_key

RUN = "check-1"
SWEEP: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": RUN,
    "config": {"y": 0.5},
    "grid": {"x": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
    "repeats": 2,
    "shard_size": 4,
}


def kinds(store: ObjectStore) -> dict[str, int]:
    return check_run(store, load_manifest(store, RUN)).counts()


def outcome(store: ObjectStore, shard: int) -> Outcome:
    return Outcome.from_parquet(store.get(layout.outcome_key(RUN, "success", shard)) or b"", RUN)


def rewrite_points(store: ObjectStore, shard: int, change: Any) -> None:
    key = vouched_points_key(store, RUN, shard)
    assert key is not None
    table = pq.read_table(io.BytesIO(store.get(key) or b""))
    rows = change(table.to_pylist())
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), buffer)
    store.put(key, buffer.getvalue())


@pytest.fixture
def done(local_store: LocalStore) -> LocalStore:
    run_sweep(SWEEP, local_store)
    return local_store


def test_a_clean_run_passes_and_every_row_is_checked(done: LocalStore) -> None:
    report = assert_invariants(done, RUN)
    assert (report.shards, report.rows_checked, report.orphan_files) == (3, 12, 0)


def test_a_shard_without_outcome_is_missing(done: LocalStore) -> None:
    done.delete(layout.outcome_key(RUN, "success", 1))
    assert kinds(done) == {"missing_outcome": 1}


def test_a_success_beside_a_failure_is_two_outcomes(done: LocalStore) -> None:
    stale = outcome(done, 2).model_copy(update={"status": "failure", "execution": None, "points_ok": 0})
    done.put(stale.key, stale.to_parquet())
    assert kinds(done) == {"two_outcomes": 1}


def test_objects_outside_the_plan_or_the_layout_are_strays(done: LocalStore) -> None:
    done.put(layout.outcome_key(RUN, "failure", 7), b"x")  # shard 7 of 3
    done.put(layout.points_prefix(RUN) + "notes.txt", b"x")
    done.put(layout.points_key(RUN, 9, "0123456789abcdef"), b"x")
    assert kinds(done) == {"stray_object": 3}


def test_an_outcome_that_claims_more_rows_than_its_file_holds_is_a_count_mismatch(done: LocalStore) -> None:
    lying = outcome(done, 0).model_copy(update={"points_ok": 4, "points_failed": 1})
    done.put(lying.key, lying.to_parquet())
    assert kinds(done) == {"count_mismatch": 1}


def test_an_outcome_whose_points_file_is_gone_is_a_count_mismatch(done: LocalStore) -> None:
    done.delete(vouched_points_key(done, RUN, 1) or "")
    assert kinds(done) == {"count_mismatch": 1}


def test_a_row_with_another_config_is_a_config_mismatch(done: LocalStore) -> None:
    def bleed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[1]["config_json"] = rows[1]["config_json"].replace('"y":0.5', '"y":0.7')
        return rows

    rewrite_points(done, 0, bleed)
    assert kinds(done) == {"config_mismatch": 1}


def test_a_point_twice_is_a_duplicate_and_a_point_of_another_shard_is_wrong(done: LocalStore) -> None:
    def double(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [rows[0], rows[0], {**rows[1], "point_index": 11}, *rows[3:]]

    rewrite_points(done, 0, double)
    assert kinds(done) == {"duplicate_point": 1, "wrong_shard": 1}


def test_an_orphan_points_file_is_counted_not_a_violation(done: LocalStore) -> None:
    key = vouched_points_key(done, RUN, 0) or ""
    done.put(layout.points_key(RUN, 0, "fedcba9876543210"), done.get(key) or b"")
    assert assert_invariants(done, RUN).orphan_files == 1


def test_the_cli_prints_one_line_per_violation_and_exits_1(done: LocalStore, tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(app, ["status", RUN, "--check", "--out", str(done.root)])
    assert clean.exit_code == 0, clean.output
    assert f"check {RUN}: ok (3 shards, 12 rows checked" in clean.output
    done.delete(layout.outcome_key(RUN, "success", 1))
    broken = runner.invoke(app, ["status", RUN, "--check", "--out", str(done.root)])
    assert broken.exit_code == 1
    assert broken.output.splitlines()[0] == "missing_outcome: shard 1: no outcome"


def test_the_cli_checks_a_stage_in_its_bucket(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a run on a stage, all shards delivered
    stage.call("POST", "/runs", SWEEP)
    stage.run_all()
    monkeypatch.setenv("SWEEP_API_URL", "https://api.example.com")
    monkeypatch.setenv("SWEEP_RESULTS_BUCKET", stage.store.bucket)
    monkeypatch.setenv("SWEEP_REGION", "us-east-1")
    # WHEN the checker reads the bucket with the caller's credentials
    result = CliRunner().invoke(app, ["status", RUN, "--check", "--stage", "test"])
    # THEN it passes; and names the violation once a shard's outcome is gone
    assert result.exit_code == 0, result.output
    stage.store.delete(layout.outcome_key(RUN, "success", 0))
    result = CliRunner().invoke(app, ["status", RUN, "--check", "--stage", "test"])
    assert (result.exit_code, result.output.splitlines()[0]) == (1, "missing_outcome: shard 0: no outcome")
