"""(g) `sweep run` as a user runs it, against the script a user would otherwise write, in the same run.

The script: `itertools.product` over the grid, `Pool(2).imap` with a large chunksize, one Parquet file
of the axis values and metrics — the same formula as the `synthetic` experiment. Both are whole
processes (interpreter start, imports, writing results), run interleaved; medians are reported.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from sweep_contracts.settings import SystemSettings

DEFAULT_MAX_POINTS = SystemSettings.resolve({}, source="default").max_points

SCRIPT = """
import itertools, sys
from multiprocessing import Pool

import pyarrow as pa
import pyarrow.parquet as pq


def f(point):
    x, y = point
    return x, y, -((x - 0.3) ** 2 + (y + 0.2) ** 2), ((x - 0.3) ** 2 + (y + 0.2) ** 2) ** 0.5


if __name__ == "__main__":
    nx, ny, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    grid = itertools.product([i / nx for i in range(nx)], [i / ny for i in range(ny)])
    with Pool(2) as pool:
        rows = list(pool.imap(f, grid, chunksize=10_000))
    columns = list(zip(*rows))
    table = pa.table({"x": columns[0], "y": columns[1], "value": columns[2], "distance": columns[3]})
    pq.write_table(table, out)
"""


def sweep_file(nx: int, ny: int) -> dict[str, Any]:
    return {
        "experiment": "synthetic",
        "config": {"noise": 0.0},
        "grid": {"x": [i / nx for i in range(nx)], "y": [i / ny for i in range(ny)]},
    }


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - started


def run(tmp: Path, repeats: int, sizes: tuple[tuple[int, int], ...] = ((500, 400),)) -> dict[str, Any]:
    sweep = shutil.which("sweep", path=str(Path(sys.executable).parent))
    if sweep is None:
        raise LookupError("the `sweep` console script is not installed next to this interpreter: run `make install`")
    script = tmp / "by_hand.py"
    script.write_text(SCRIPT)
    figures: dict[str, Any] = {}
    for nx, ny in sizes:
        points = nx * ny
        request = tmp / f"sweep-{points}.yaml"
        request.write_text(yaml.safe_dump(sweep_file(nx, ny)))
        settings = tmp / "settings.yaml"  # only over the default max_points cap: defaults otherwise
        settings.write_text(yaml.safe_dump({"max_points": points}))
        extra = ["--settings", str(settings)] if points > DEFAULT_MAX_POINTS else []
        runs: dict[str, list[float]] = {"script_s": [], "sweep_run_s": []}
        for i in range(repeats):
            out = tmp / f"script-{points}-{i}.parquet"
            runs["script_s"].append(timed([sys.executable, str(script), str(nx), str(ny), str(out)]))
            results = tmp / f"results-{points}-{i}"
            command = [sweep, "run", str(request), "--out", str(results), *extra]
            runs["sweep_run_s"].append(timed(command))
            shutil.rmtree(results, ignore_errors=True)
            out.unlink(missing_ok=True)
        script_s, sweep_s = statistics.median(runs["script_s"]), statistics.median(runs["sweep_run_s"])
        figures[f"{points}_points"] = {
            **{k: [round(v, 3) for v in vs] for k, vs in runs.items()},
            "script_median_s": round(script_s, 3),
            "sweep_run_median_s": round(sweep_s, 3),
            "sweep_over_script": round(sweep_s / script_s, 2),
        }
    return figures
