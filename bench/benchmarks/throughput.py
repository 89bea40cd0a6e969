"""(a) throughput: the engine vs a plain multiprocessing.Pool.imap(chunksize)."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import WORKERS, Benchmark, Result, engine_run, fresh, interleaved, median_of
from sweep_contracts import layout
from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.outcomes import Outcome
from sweep_contracts.points import PointSpace
from sweep_contracts.request import parse_request
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_worker.sink import PointRows

THROUGHPUT_SWEEP = {
    "experiment": "synthetic",
    "run_id": "bench-throughput",
    "config": {"noise": 0.0},
    "grid": {"x": [i / 500 for i in range(500)], "y": [i / 400 for i in range(400)]},
}

_baseline: dict[str, Any] = {}  # per pool process: the point space and the experiment


def _baseline_init(payload: dict[str, Any]) -> None:
    request = parse_request(payload)
    _baseline["space"] = PointSpace(request, request.config)
    _baseline["experiment"] = Registry.default().get(request.experiment)


def _baseline_point(index: int) -> tuple[Any, ...]:
    space: PointSpace = _baseline["space"]
    experiment: Experiment[Any] = _baseline["experiment"]
    point = space.point(index)
    effective = space.effective_config(point)
    started = time.perf_counter()
    try:
        metrics, error = experiment.evaluate(experiment.parse_config(effective)), None
    except Exception as exc:
        metrics, error = {}, (type(exc).__name__, str(exc))
    return (
        index,
        point.series,
        point.repeat,
        {k: param_text(v) for k, v in point.params.items()},
        metrics,
        error,
        (time.perf_counter() - started) * 1000,
        canonical_json(effective),
        time.time_ns() // 1_000_000,
    )


def baseline_imap(out: Path, payload: dict[str, Any], shard_size: int) -> float:
    """The plainest way to do the same job: Pool.imap over indices, the parent writing the same
    Parquet (points and an outcome per shard of `shard_size`) as results stream in."""
    store = LocalStore(out)
    run_id = payload["run_id"]
    request = parse_request(payload)
    total = PointSpace(request, request.config).size
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(WORKERS, initializer=_baseline_init, initargs=(payload,)) as pool:
        rows, shard, shard_started = PointRows(0), 0, datetime.now(UTC)
        for row in pool.imap(_baseline_point, range(total), chunksize=shard_size):
            index, series, repeat, params, metrics, error, duration, config_json, finished = row
            rows.add(
                point_index=index,
                series=series,
                repeat=repeat,
                params=params,
                metrics=metrics,
                error=error,
                duration_ms=duration,
                config_json=config_json,
                finished_at_ms=finished,
            )
            if len(rows) == shard_size or index == total - 1:
                store.put(layout.points_key(run_id, shard), rows.to_parquet())
                now = datetime.now(UTC)
                outcome = Outcome(
                    run_id=run_id,
                    shard_id=shard,
                    status="success",
                    points_total=len(rows),
                    points_ok=rows.ok,
                    points_failed=rows.failed,
                    started_at=shard_started,
                    finished_at=now,
                    duration_ms=0.0,
                )
                store.put(outcome.key, outcome.to_parquet())
                shard, rows, shard_started = shard + 1, PointRows(shard + 1), now
    return time.perf_counter() - started


def bench_throughput(tmp: Path, repeats: int) -> Result:
    payload = THROUGHPUT_SWEEP
    request = parse_request(payload)
    total = PointSpace(request, request.config).size
    settings = SystemSettings.resolve({}, source="default")
    from sweep_contracts.planning import plan_shards

    shard_size = plan_shards(total, settings).shard_size
    runs = interleaved(
        repeats,
        baseline=lambda: baseline_imap(fresh(tmp, "baseline"), payload, shard_size),
        engine=lambda: engine_run(fresh(tmp, "engine"), payload),
    )
    base, engine = median_of(runs["baseline"]), median_of(runs["engine"])
    ratio = base / engine  # throughput ratio: engine points/s over baseline points/s
    return Result(
        "(a) local throughput, near-zero-cost experiment",
        "uv run python bench/run.py throughput",
        "engine/baseline throughput >= 0.8",
        {
            "points": total,
            "shard_size": shard_size,
            "workers": WORKERS,
            "baseline_s": runs["baseline"],
            "engine_s": runs["engine"],
            "baseline_points_per_s": round(total / base),
            "engine_points_per_s": round(total / engine),
            "ratio": round(ratio, 3),
        },
        met=ratio >= 0.8,
    )


BENCHMARK = Benchmark(
    bench_throughput,
    lambda f: f"{f['ratio']}x ({f['engine_points_per_s']:,} vs {f['baseline_points_per_s']:,} points/s)",
)
