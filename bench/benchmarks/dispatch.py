"""(e) dispatching 1,000 and 10,000 shards through POST /runs (the measuring is bench/dispatch.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.common import Benchmark, Result, median_of, rounded


def bench_dispatch(tmp: Path, repeats: int) -> Result:
    import dispatch  # bench/ is on sys.path (see the top of this file)

    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    lam = dispatch.FakeLambda()
    try:
        baseline = median_of([dispatch.sequential(lam, 100) for _ in range(repeats)])
        figures: dict[str, Any] = {
            "invoke_delay_ms": dispatch.INVOKE_DELAY_S * 1000,
            "baseline_sequential_shards_per_s": round(baseline),
        }
        met = True
        for shards in (1_000, 10_000):
            runs = [dispatch.submit(lam, shards, r) for r in range(repeats)]
            rate = median_of([r["shards_per_s"] for r in runs])
            answer = median_of([r["answer_s"] for r in runs])
            figures[f"{shards}_shards"] = {
                "answer_s": round(answer, 3),
                "first_invoke_s": round(median_of([r["first_invoke_s"] for r in runs]), 3),
                "shards_per_s": round(rate),
                "over_sequential": round(rate / baseline, 1),
                "runs_total_s": rounded([r["total_s"] for r in runs]),
            }
            met = met and rate >= 1000 and (shards < 10_000 or answer < 2)
    finally:
        lam.stop()
    return Result(
        "(e) dispatching shards from POST /runs (fake Lambda, 20 ms per invoke)",
        "uv run python bench/run.py dispatch",
        ">= 1,000 shards/s; POST /runs answers in < 2 s at 10,000 shards",
        figures,
        met=met,
    )


BENCHMARK = Benchmark(
    bench_dispatch,
    lambda f: (
        f"{f['1000_shards']['shards_per_s']:,} and {f['10000_shards']['shards_per_s']:,} shards/s; "
        f"answers in {f['10000_shards']['answer_s']} s at 10,000"
    ),
)
