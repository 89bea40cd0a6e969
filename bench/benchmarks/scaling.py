"""(b) CPU-bound maze scaling, 2 workers vs 1."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.common import Benchmark, Result, engine_run, fresh, interleaved, median_of

MAZE_SWEEP = {
    "experiment": "maze",
    "run_id": "bench-maze",
    "config": {"size": 41, "max_moves": 4000, "short_memory": 3},
    "grids": [
        {"name": "strategy", "axes": {"strategy": ["wall-follower", "random-walk", "dfs-recall"]}},
        {"name": "recall", "axes": {"recall_interval": [1, 5, 20, 80]}},
    ],
    "repeats": 200,
}


def bench_scaling(tmp: Path, repeats: int) -> Result:
    runs = interleaved(
        repeats,
        one=lambda: engine_run(fresh(tmp, "one"), MAZE_SWEEP, workers=1),
        two=lambda: engine_run(fresh(tmp, "two"), MAZE_SWEEP, workers=2),
    )
    speedup = median_of(runs["one"]) / median_of(runs["two"])
    return Result(
        "(b) CPU-bound maze scaling",
        "uv run python bench/run.py scaling",
        "2 workers >= 1.8x the throughput of 1",
        {
            "points": 7 * 200,
            "one_worker_s": runs["one"],
            "two_workers_s": runs["two"],
            "speedup": round(speedup, 3),
            "cpus": os.cpu_count(),
        },
        met=speedup >= 1.8,
    )


BENCHMARK = Benchmark(bench_scaling, lambda f: f"{f['speedup']}x")
