"""(k) dispatching 2,000 shards into an account throttled at 100/s and 500/s (the measuring is bench/throttle.py)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Benchmark, Result


def bench_throttle(tmp: Path, repeats: int) -> Result:
    import throttle  # bench/throttle.py: the fan-out tree against Lambda's invoke-rate limit

    figures = {f"{rate}_per_s": throttle.run(rate) for rate in (100, 500)}
    return Result(
        "(k) dispatching 2,000 shards into an account throttled at 100/s and 500/s",
        "uv run python bench/run.py throttle",
        "0 DISPATCH_FAILED",
        figures,
        met=all(f["dispatch_failed"] == 0 for f in figures.values()),
    )


BENCHMARK = Benchmark(
    bench_throttle,
    lambda f: (
        f"{f['100_per_s']['dispatch_failed']} and {f['500_per_s']['dispatch_failed']} DISPATCH_FAILED; "
        f"{f['100_per_s']['over_least']}x and {f['500_per_s']['over_least']}x the least time"
    ),
)
