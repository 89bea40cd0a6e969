"""(h) GET /runs/{id} of a 10,000-shard run against S3 on loopback (moto, 20 ms a request;
the measuring is bench/status.py)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Benchmark, Result


def bench_status(tmp: Path, repeats: int) -> Result:
    import status  # bench/ is on sys.path (see the top of this file)

    figures = status.run(repeats)
    calm = figures["nothing_failed"]["after"]
    return Result(
        "(h) GET /runs/{id} of a 10,000-shard run (moto S3 on loopback, 20 ms a request)",
        "uv run python bench/run.py status",
        "<= 20 S3 requests and < 1 s when nothing failed (a warm orchestrator)",
        figures,
        met=calm["warm_requests"] <= 20 and calm["warm_answer_s"] < 1,
    )


BENCHMARK = Benchmark(
    bench_status,
    lambda f: (
        f"{f['nothing_failed']['after']['warm_requests']} requests warm "
        f"({f['nothing_failed']['after']['cold_requests']} cold), "
        f"{f['nothing_failed']['after']['warm_answer_s']} s "
        f"(before: {f['nothing_failed']['before']['warm_requests']}, "
        f"{f['nothing_failed']['before']['warm_answer_s']} s); "
        f"100 failed: {f['100_failed']['after']['warm_requests']} requests, "
        f"{f['100_failed']['after']['warm_answer_s']} s"
    ),
)
