"""(d) `sweep results` summary over 1,000,000 point rows."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Benchmark, Result, fresh, interleaved, median_of
from sweep_cli.local.engine import local_runtime
from sweep_cli.query import ResultsDB, summary_sql
from sweep_contracts import layout
from sweep_contracts._json import param_text
from sweep_contracts.outcomes import Outcome
from sweep_contracts.points import PointSpace
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.submit import prepare
from sweep_worker.sink import PointRows


def write_million(out: Path) -> str:
    payload = {
        "experiment": "synthetic",
        "run_id": "bench-million",
        "config": {"noise": 0.1},
        "grid": {"x": [i / 100 for i in range(1000)], "y": [i / 100 for i in range(100)]},
        "repeats": 10,
        "shard_size": 10_000,
    }
    settings = SystemSettings.resolve({}, source="default")
    runtime, _ = local_runtime(out, 1, settings)
    manifest = prepare(payload, runtime)
    store = LocalStore(out)
    store.put(layout.manifest_key(manifest.run_id), manifest.to_json())
    space = PointSpace(manifest.request, manifest.request.config)
    now = datetime.now(UTC)
    for shard in manifest.plan.shards():
        rows = PointRows(shard.shard_id)
        for index in range(shard.start, shard.stop):
            point = space.point(index)
            value = -((float(point.params["x"]) - 3) ** 2) + (index % 7) / 100  # type: ignore[arg-type]
            rows.add(
                point_index=index,
                series=point.series,
                repeat=point.repeat,
                params={k: param_text(v) for k, v in point.params.items()},
                metrics={"value": value, "distance": abs(value)},
                error=None,
                duration_ms=0.01,
                config_json="{}",
                finished_at_ms=0,
            )
        store.put(layout.points_key(manifest.run_id, shard.shard_id), rows.to_parquet())
        outcome = Outcome(
            run_id=manifest.run_id,
            shard_id=shard.shard_id,
            status="success",
            points_total=shard.size,
            points_ok=shard.size,
            started_at=now,
            finished_at=now,
            duration_ms=0.0,
        )
        store.put(outcome.key, outcome.to_parquet())
    return manifest.run_id


def bench_results(tmp: Path, repeats: int) -> Result:
    out = fresh(tmp, "million")
    run_id = write_million(out)

    def summary() -> float:
        started = time.perf_counter()
        db = ResultsDB(out, run_id)
        rows = db.query(summary_sql("value", "max", 10)).rows
        db.close()
        assert rows[0][1] == 1_000_000
        return (time.perf_counter() - started) * 1000

    def scan() -> float:
        started = time.perf_counter()
        db = ResultsDB(out, run_id)
        db.query("SELECT count(*), avg(metrics['value']) FROM points")
        db.close()
        return (time.perf_counter() - started) * 1000

    def cli() -> float:
        import subprocess

        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sweep_cli", "results", run_id, "--out", str(out)], check=True, capture_output=True
        )
        return (time.perf_counter() - started) * 1000

    runs = interleaved(repeats * 2, scan=scan, summary=summary, cli=cli)
    summary_ms = median_of(runs["summary"])
    return Result(
        "(d) `sweep results` summary over 1,000,000 point rows",
        "uv run python bench/run.py results",
        "< 1 s",
        {
            "rows": 1_000_000,
            "files": 100,
            "scan_floor_ms": round(median_of(runs["scan"])),
            "summary_ms": round(summary_ms),
            "summary_over_scan": round(summary_ms / median_of(runs["scan"]), 2),
            "whole_command_ms": round(median_of(runs["cli"])),
        },
        met=summary_ms < 1000,
    )


BENCHMARK = Benchmark(bench_results, lambda f: f"{f['summary_ms']} ms ({f['whole_command_ms']} ms as a whole command)")
