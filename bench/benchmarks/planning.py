"""(c) planning a 10,000,000-point sweep."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.common import Benchmark, Result, interleaved, median_of
from sweep_cli.local.engine import local_runtime
from sweep_contracts.settings import SystemSettings
from sweep_orchestrator.submit import prepare


def grid_of(points_per_axis: list[int]) -> dict[str, Any]:
    names = ["recall_interval", "short_memory", "max_moves", "size"]
    axes = {}
    for name, n in zip(names, points_per_axis, strict=False):
        start = 2 if name == "size" else 1
        axes[name] = list(range(start, start + n))
    return {"experiment": "maze", "run_id": "bench-plan", "config": {"strategy": "dfs-recall"}, "grid": axes}


def bench_planning(tmp: Path, repeats: int) -> Result:
    big = SystemSettings.resolve({"max_points": 10_000_000}, source="default")
    runtime, _ = local_runtime(tmp, 1, big)
    small_payload, big_payload = grid_of([10, 10, 10, 10]), grid_of([100, 100, 100, 10])

    def timed(payload: dict[str, Any]) -> float:
        started = time.perf_counter()
        prepare(payload, runtime)
        return (time.perf_counter() - started) * 1000

    def peak_kib(payload: dict[str, Any]) -> float:
        tracemalloc.start()
        prepare(payload, runtime)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 1024

    timed(big_payload)  # warm: first use imports and builds validators
    runs = interleaved(repeats * 5, small=lambda: timed(small_payload), big=lambda: timed(big_payload))
    manifest = prepare(big_payload, runtime)
    events_started = time.perf_counter()
    factory = manifest.task_factory()
    count = sum(1 for _ in factory.events())
    events_ms = (time.perf_counter() - events_started) * 1000
    big_ms = median_of(runs["big"])
    memory = {"small_peak_kib": round(peak_kib(small_payload)), "big_peak_kib": round(peak_kib(big_payload))}
    return Result(
        "(c) planning a 10,000,000-point sweep",
        "uv run python bench/run.py planning",
        "< 50 ms, memory flat (10,000 vs 10,000,000 points)",
        {
            "points": manifest.plan.points_total,
            "shards": manifest.plan.shard_count,
            "plan_10k_ms": round(median_of(runs["small"]), 2),
            "plan_10m_ms": round(big_ms, 2),
            "time_ratio_10m_over_10k": round(big_ms / median_of(runs["small"]), 2),
            **memory,
            "all_task_events_ms": round(events_ms, 1),
            "task_events": count,
        },
        met=big_ms < 50 and memory["big_peak_kib"] < 2 * memory["small_peak_kib"] + 256,
    )


BENCHMARK = Benchmark(
    bench_planning,
    lambda f: f"{f['plan_10m_ms']} ms (peak {f['big_peak_kib']} KiB vs {f['small_peak_kib']} KiB at 10,000)",
)
