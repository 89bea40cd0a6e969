"""Load: many submissions at once, through the API handler on a stage (moto) and as local runs
into one results directory. Every run must pass the invariant checker. Figures: docs/reliability.md."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sweep_contracts.storage import LocalStore
from tests.cloud import Stage
from tests.helpers import assert_invariants

SUBMISSIONS = 100
LOCAL_RUNS = 20


def sweep(run_id: str, y: float) -> dict[str, Any]:
    return {
        "experiment": "synthetic",
        "run_id": run_id,
        "config": {"y": y},
        "grid": {"x": [0.0, 0.25, 0.5, 0.75]},
        "shard_size": 2,
    }


@pytest.mark.long
@pytest.mark.xfail(
    reason="open: one run answered 202 had no manifest afterwards (RunNotFoundError for load-000); "
    "not yet told apart from moto's S3 under concurrent conditional PUTs",
    strict=False,
)
def test_100_concurrent_submissions_through_the_handler(stage: Stage) -> None:
    # GIVEN 100 distinct sweeps, each with its own config
    payloads = [sweep(f"load-{i:03d}", i / 100) for i in range(SUBMISSIONS)]
    # WHEN they are submitted at once (32 threads) and every captured task is delivered
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda p: stage.call("POST", "/runs", p), payloads))
    submitted = time.perf_counter() - started
    stage.run_all()
    # THEN every submission was accepted and every run passes the checker: no config bleed, no lost shard
    assert [status for status, _ in answers] == [202] * SUBMISSIONS
    rows = sum(assert_invariants(stage.store, p["run_id"]).rows_checked for p in payloads)
    assert rows == 4 * SUBMISSIONS
    print(f"\nLOAD handler: {SUBMISSIONS} submissions in {submitted:.1f} s, {rows} rows checked, 0 violations")


@pytest.mark.long
def test_20_concurrent_local_runs_into_one_directory(tmp_path: Path) -> None:
    out = tmp_path / "results"
    files = []
    for i in range(LOCAL_RUNS):
        path = tmp_path / f"s{i}.json"
        path.write_text(__import__("json").dumps(sweep(f"local-{i:02d}", i / 10)))
        files.append(path)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sweep_cli", "run", str(f), "--out", str(out), "--workers", "1", "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for f in files
    ]
    codes = [p.wait(timeout=600) for p in procs]
    elapsed = time.perf_counter() - started
    assert codes == [0] * LOCAL_RUNS, [p.stderr.read() if p.stderr else b"" for p in procs]
    store = LocalStore(out)
    rows = sum(assert_invariants(store, f"local-{i:02d}").rows_checked for i in range(LOCAL_RUNS))
    assert rows == 4 * LOCAL_RUNS
    print(
        f"\nLOAD local: {LOCAL_RUNS} concurrent `sweep run` into one directory in {elapsed:.1f} s, {rows} rows, 0 violations"
    )
