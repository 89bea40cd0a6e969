"""(d) `sweep results` summary over 1,000,000 point rows."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import Benchmark, Result, fresh, interleaved, median_of
from sweep_cli.results.query import ResultsDB, summary_sql

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.report_runs
from tests.report_runs import write_run


def write_million(out: Path) -> str:
    payload = {
        "experiment": "synthetic",
        "run_id": "bench-million",
        "config": {"noise": 0.1},
        "grid": {"x": [i / 100 for i in range(1000)], "y": [i / 100 for i in range(100)]},
        "repeats": 10,
        "shard_size": 10_000,
    }

    def metrics(index: int, params: Mapping[str, Any]) -> dict[str, float]:
        value = -((float(params["x"]) - 3) ** 2) + (index % 7) / 100
        return {"value": value, "distance": abs(value)}

    return write_run(out, payload, metrics)


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
