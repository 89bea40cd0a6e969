"""Adaptive search against the grid on a real model (issue 25, the LLM case): a 3-option search of
SmolLM2-135M's sampling options over built-in arithmetic items, served by llama.cpp on loopback.

Does the search find a setting whose score lies within the grid's 95% interval of the grid's best
setting, with fewer calls? The grid is temperature × top_p × repeat_penalty, 3 × 3 × 3 settings,
each on the same 10 items × 2 seeds (540 calls); the search spends `--trials` trials (default 8,
160 calls) on the continuous ranges the grid spans, over the same items and seeds (`average_over`),
for each of `--seeds` sampler seeds. Every run goes through `sweep run` in-process (the real pool,
Parquet and DuckDB); the interval is the report's own (`sweep_cli.report.intervals`: Wilson for a
0/1 score). Nothing asserts: the figures are for a reader to judge (bench/RESULTS.md).

    uv run python bench/search_llm.py                       # starts a server on a free port, stops it
    SWEEP_LLM_URL=http://127.0.0.1:8080 uv run python bench/search_llm.py --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from search import _run, runner  # noqa: E402  (bench/search.py: `sweep run` in-process)
from sweep_cli.main import app  # noqa: E402
from sweep_cli.report.intervals import MetricRange, estimate  # noqa: E402
from sweep_cli.results.query import ResultsDB, metric_expr, param_expr  # noqa: E402

GRID: dict[str, list[float]] = {
    "temperature": [0.0, 0.5, 1.0],
    "top_p": [0.5, 0.75, 1.0],
    "extra.repeat_penalty": [1.0, 1.25, 1.5],
}
ITEMS = list(range(10))
REPEATS = 2
CONFIG: dict[str, Any] = {
    "model": "smollm2",
    "tasks": "arithmetic",
    "system": "You are a calculator. Reply with the number only.",
    "max_tokens": 16,
    "max_tokens_field": "max_tokens",
    "top_p": 0.95,
    "extra": {"top_k": 40, "repeat_penalty": 1.1},
    "concurrency": 2,
}


@contextmanager
def model_server() -> Iterator[str]:
    given = os.environ.get("SWEEP_LLM_URL")
    if given:
        yield given
        return
    script = str(ROOT / "scripts/llm-server.sh")
    url = subprocess.run([script, "start"], capture_output=True, text=True, check=True, timeout=900).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([script, "stop", url.rsplit(":", 1)[1]], check=False, timeout=60)


def grid(url: str, out: Path) -> dict[str, Any]:
    doc = {
        "experiment": "openai-chat",
        "run_id": "grid-llm",
        "config": {**CONFIG, "endpoint": url},
        "grid": {**GRID, "task_index": ITEMS},
        "repeats": REPEATS,
    }
    wall = _run(doc, out, 2)
    db = ResultsDB(out, doc["run_id"])
    try:
        names = ", ".join(param_expr(axis) for axis in GRID)
        rows = db.query(
            f"SELECT {names}, count(*), avg({metric_expr('score')}), count_if(status <> 'ok') "
            f"FROM points GROUP BY ALL ORDER BY 5 DESC"
        ).rows
    finally:
        db.close()
    settings = [
        {"setting": dict(zip(GRID, (float(v) for v in row[:3]), strict=True)), "n": row[3], "score": row[4],
         "errors": row[5]}
        for row in rows
    ]  # fmt: skip
    best = settings[0]
    interval = estimate(best["n"], best["score"], None, MetricRange(0.0, 1.0, binary=True))
    return {
        "calls": sum(s["n"] for s in settings),
        "wall_s": round(wall, 1),
        "best": best,
        "best_interval_95": [round(interval.low, 3), round(interval.high, 3)],
        "settings_within_interval": sum(s["score"] >= interval.low for s in settings),
        "settings": len(settings),
        "scores": sorted((round(s["score"], 3) for s in settings), reverse=True),
    }


def search(url: str, out: Path, seed: int, trials: int, batch: int) -> dict[str, Any]:
    doc = {
        "experiment": "openai-chat",
        "run_id": f"search-llm-{seed}",
        "config": {**CONFIG, "endpoint": url},
        "search": {
            "space": {axis: {"uniform": [values[0], values[-1]]} for axis, values in GRID.items()},
            "seed": seed,
            "budget": {"trials": trials},
            "batch": batch,
            "average_over": {"task_index": ITEMS},
        },
        "repeats": REPEATS,
    }
    wall = _run(doc, out, 2)
    result = runner.invoke(app, ["results", doc["run_id"], "--out", str(out), "--format", "json"])
    view = json.loads(result.output)
    told = [t for t in view["history"] if t["value"] is not None]
    best = max(told, key=lambda t: t["value"])
    return {
        "seed": seed,
        "calls": len(view["history"]) * len(ITEMS) * REPEATS,
        "wall_s": round(wall, 1),
        "best_score": best["value"],
        "best_setting": {k: round(v, 3) for k, v in best["params"].items()},
        "failed_trials": len(view["history"]) - len(told),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, model_server() as url:
        out = Path(folder) / "out"
        full = grid(url, out)
        low = full["best_interval_95"][0]
        runs = [search(url, out, seed, args.trials, args.batch) for seed in range(args.seeds)]
    found = [r["best_score"] for r in runs]
    report = {
        "grid": full,
        "search": runs,
        "search_median_best": statistics.median(found),
        "searches_within_grid_best_interval": sum(score >= low for score in found),
        "search_calls_share_of_grid": runs[0]["calls"] / full["calls"],
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
