"""(g) `sweep run` against the script a user would write instead (the measuring is bench/script.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.common import Benchmark, Result


def bench_script(tmp: Path, repeats: int) -> Result:
    import script  # bench/ is on sys.path (see the top of this file)

    sizes = script.sizes_from(os.environ.get("SWEEP_SCRIPT_SIZES", "500x400,2000x1000"))
    before_max = int(os.environ.get("SWEEP_SCRIPT_BEFORE_MAX", "200000"))
    after = os.environ.get("SWEEP_SCRIPT_AFTER")  # a ref; default: this checkout as installed
    figures = script.run(tmp, repeats, sizes, before=SCRIPT_BEFORE, before_max_points=before_max, after=after)
    small, large = figures.get("200000_points", {}), figures.get("2000000_points", {})
    return Result(
        "(g) `sweep run` vs the hand-written script, near-zero-cost points (whole commands)",
        "uv run python bench/run.py script",
        "sweep run <= 2x the script's wall time at 200,000 points, <= 1.3x at 2,000,000",
        figures,
        met=small.get("sweep_over_script", 99) <= 2 and large.get("sweep_over_script", 99) <= 1.3,
    )


def script_headline(key: str, v: dict[str, Any]) -> str:
    points = int(key.split("_", maxsplit=1)[0])
    before = f", before {v['before_over_script']}x" if "before_over_script" in v else ""
    times = f"{v['sweep_run_median_s']} s vs {v['script_median_s']} s"
    return f"{points:,} points {v['sweep_over_script']}x ({times}{before})"


SCRIPT_BEFORE = os.environ.get("SWEEP_SCRIPT_BEFORE", "e3d57e9")  # the branch point of this round
"""main before the local engine's shard sizing and lean per-point path (issue 13): (g)'s "before"."""


BENCHMARK = Benchmark(
    bench_script, lambda f: "; ".join(script_headline(k, v) for k, v in f.items() if k.endswith("_points"))
)
