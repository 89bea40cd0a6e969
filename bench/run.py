"""Benchmarks of the local engine, each as a ratio against a baseline measured in the same run.

    make bench                      # all of them, rewrites bench/RESULTS.md and bench/results.json
    uv run python bench/run.py throughput planning   # a selection

Runs are interleaved (baseline, candidate, baseline, …) and medians are reported, since this
machine is shared and noisy. Nothing here asserts a time: the targets are written beside the
figures for a reader to judge.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sweep_cli.local.engine import local_runtime
from sweep_cli.query import ResultsDB, summary_sql
from sweep_contracts import layout
from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.outcomes import Outcome
from sweep_contracts.points import PointSpace
from sweep_contracts.request import parse_request
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.submit import prepare, submit_run
from sweep_worker.sink import PointRows

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
WORKERS = 2


@dataclass
class Result:
    name: str
    command: str
    target: str
    figures: dict[str, Any] = field(default_factory=dict)
    met: bool | None = None


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def rounded(runs: list[float]) -> list[float]:
    return [round(r, 3) for r in runs]


def interleaved(repeats: int, **candidates: Callable[[], float]) -> dict[str, list[float]]:
    """Run each candidate `repeats` times, round-robin, and return every measurement."""
    out: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            out[name].append(fn())
    return out


# --- (a) throughput: the engine vs a plain multiprocessing.Pool.imap(chunksize) ----------------

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


def engine_run(out: Path, payload: dict[str, Any], workers: int = WORKERS) -> float:
    """The local engine as `sweep run` drives it: submit (validate, plan, manifest), dispatch to the
    process pool, wait for every shard."""
    settings = SystemSettings.resolve({}, source="default")
    started = time.perf_counter()
    runtime, dispatcher = local_runtime(out, workers, settings)
    try:
        submit_run(payload, runtime)
        dispatcher.wait(lambda done: None)
    finally:
        dispatcher.shutdown()
    return time.perf_counter() - started


def fresh(tmp: Path, name: str) -> Path:
    path = tmp / name
    shutil.rmtree(path, ignore_errors=True)
    return path


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


# --- (b) CPU-bound maze scaling, 2 workers vs 1 ------------------------------------------------

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


# --- (c) planning a 10,000,000-point sweep ------------------------------------------------------


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


# --- (d) `sweep results` summary over 1,000,000 point rows -------------------------------------


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


# --- (e) dispatching 1,000 and 10,000 shards through POST /runs --------------------------------


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


# --- (f) cold start: importing the worker handler, `sweep --help`, a first and a warm shard -------


def bench_coldstart(tmp: Path, repeats: int) -> Result:
    import coldstart  # bench/ is on sys.path (see the top of this file)

    figures = coldstart.run(tmp, repeats) | {"artifact": coldstart.artifact(tmp, repeats)}
    return Result(
        "(f) cold start: `import sweep_worker.handler`, `sweep --help`",
        "uv run python bench/run.py coldstart",
        "< 300 ms and < 250 ms (unloaded); here: after/before above the `python -c pass` floor, same run",
        figures,
        met=figures["worker_import_after_ms"] - figures["python_floor_ms"] < 300
        and figures["sweep_help_after_ms"] - figures["python_floor_ms"] < 250,
    )


# --- (g) `sweep run` against the script a user would write instead --------------------------------


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


# --- (h) GET /runs/{id} of a 10,000-shard run against S3 on loopback (moto, 20 ms a request) -----


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


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: how to run it, and the one line of its figures the summary table shows."""

    run: Callable[[Path, int], Result]
    headline: Callable[[dict[str, Any]], str]


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


BENCHES: dict[str, Benchmark] = {
    "throughput": Benchmark(
        bench_throughput,
        lambda f: f"{f['ratio']}x ({f['engine_points_per_s']:,} vs {f['baseline_points_per_s']:,} points/s)",
    ),
    "scaling": Benchmark(bench_scaling, lambda f: f"{f['speedup']}x"),
    "planning": Benchmark(
        bench_planning,
        lambda f: f"{f['plan_10m_ms']} ms (peak {f['big_peak_kib']} KiB vs {f['small_peak_kib']} KiB at 10,000)",
    ),
    "results": Benchmark(
        bench_results, lambda f: f"{f['summary_ms']} ms ({f['whole_command_ms']} ms as a whole command)"
    ),
    "dispatch": Benchmark(
        bench_dispatch,
        lambda f: (
            f"{f['1000_shards']['shards_per_s']:,} and {f['10000_shards']['shards_per_s']:,} shards/s; "
            f"answers in {f['10000_shards']['answer_s']} s at 10,000"
        ),
    ),
    "throttle": Benchmark(
        bench_throttle,
        lambda f: (
            f"{f['100_per_s']['dispatch_failed']} and {f['500_per_s']['dispatch_failed']} DISPATCH_FAILED; "
            f"{f['100_per_s']['over_least']}x and {f['500_per_s']['over_least']}x the least time"
        ),
    ),
    "coldstart": Benchmark(
        bench_coldstart,
        lambda f: (
            f"import {f['worker_import_after_ms']:.0f} ms (was {f['worker_import_before_ms']:.0f}; "
            f"{f['worker_import_before_bytecode_ms']:.0f} with bytecode), --help {f['sweep_help_after_ms']:.0f} ms "
            f"(was {f['sweep_help_before_ms']:.0f}; {f['sweep_help_before_bytecode_ms']:.0f}), floor "
            f"{f['python_floor_ms']:.0f} ms; import + first shard {f['import_and_first_shard_after_ms']:.0f} ms "
            f"(was {f['import_and_first_shard_before_ms']:.0f}); 3.12 artifact import "
            f"{f['artifact'].get('with_bytecode_ms', '-')} ms "
            f"(without bytecode {f['artifact'].get('without_bytecode_ms', '-')})"
        ),
    ),
    "script": Benchmark(
        bench_script,
        lambda f: "; ".join(script_headline(k, v) for k, v in f.items() if k.endswith("_points")),
    ),
    "status": Benchmark(
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
    ),
}


def render(recorded: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Recorded by `make bench` (`uv run python bench/run.py [NAME …]`) on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}. Medians of interleaved "
        "runs; every figure is compared with a baseline measured in the same run. This machine is shared: "
        "single runs vary by 10-20%, and a benchmark run while other work is running reads low.",
        "",
        "| benchmark | target | result | met | recorded |",
        "|---|---|---|---|---|",
    ]
    for r in recorded:
        headline = BENCHES[r["key"]].headline(r["figures"])
        lines.append(f"| {r['name']} | {r['target']} | {headline} | {'yes' if r['met'] else 'NO'} | {r['recorded']} |")
    for r in recorded:
        lines += [
            "",
            f"## {r['name']}",
            "",
            f"Command: `{r['command']}`",
            "",
            "```json",
            json.dumps(r["figures"], indent=2),
            "```",
        ]
    return "\n".join(lines) + "\n"


def hand_written_sections(text: str, recorded: list[dict[str, Any]]) -> str:
    """The `## …` sections of RESULTS.md that this script did not write (other benchmarks' notes),
    so that rewriting the figures keeps them."""
    generated = {f"## {r['name']}" for r in recorded}
    kept, keep = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line not in generated
        if keep:
            kept.append(line)
    return "\n" + "\n".join(kept) + "\n" if kept else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", help=f"benchmarks to run: {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each candidate (medians are reported)")
    args = parser.parse_args()
    names = args.which or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}")
    started = datetime.now(UTC)
    results = []
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        for name in names:
            print(f"running {name} …", file=sys.stderr, flush=True)
            result = BENCHES[name].run(Path(tmp), args.repeats)
            print(json.dumps({"name": result.name, **result.figures, "met": result.met}), flush=True)
            results.append(result)
    store = HERE / "results.json"
    recorded = {r["key"]: r for r in json.loads(store.read_text())} if store.exists() else {}
    for name, result in zip(names, results, strict=True):
        recorded[name] = {
            "key": name,
            "name": result.name,
            "command": result.command,
            "target": result.target,
            "met": result.met,
            "recorded": f"{started:%Y-%m-%d %H:%M} UTC",
            "figures": result.figures,
        }
    ordered = [recorded[k] for k in BENCHES if k in recorded]
    store.write_text(json.dumps(ordered, indent=2) + "\n")
    results_md = HERE / "RESULTS.md"
    previous = results_md.read_text() if results_md.exists() else ""
    results_md.write_text(render(ordered) + hand_written_sections(previous, ordered))
    print(f"updated {', '.join(names)} in {HERE / 'RESULTS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
