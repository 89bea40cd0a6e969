"""(g) `sweep run` as a user runs it, against the script a user would otherwise write, in the same run.

The script: `itertools.product` over the grid, `Pool(2).imap` with a large chunksize, one Parquet file
of the axis values and metrics — the same formula as the `synthetic` experiment. Both are whole
processes (interpreter start, imports, writing results), run interleaved; medians are reported.
With `before` (a git ref), `sweep run` of that source tree (unpacked, first on PYTHONPATH, as in
`coldstart`) runs in the same rounds, so before and after are each compared with the script of the
same run; with `after`, "after" is that ref's tree likewise (the checkout may change meanwhile).
`SWEEP_SCRIPT_SIZES=500x400,2000x1000` chooses the grids; `SWEEP_SCRIPT_BEFORE_MAX` the largest
number of points the "before" tree runs (it is the slow one).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
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


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=3600, env=env)
    return time.perf_counter() - started


SWEEP_MAIN = "import sys; from sweep_cli.main import main; sys.argv[0] = 'sweep'; main()"


def run(
    tmp: Path,
    repeats: int,
    sizes: tuple[tuple[int, int], ...] = ((500, 400),),
    before: str | None = None,
    before_max_points: int = 200_000,
    after: str | None = None,
) -> dict[str, Any]:
    from coldstart import environ, unpack

    sweep = shutil.which("sweep", path=str(Path(sys.executable).parent))
    if sweep is None:
        raise LookupError("the `sweep` console script is not installed next to this interpreter: run `make install`")
    script = tmp / "by_hand.py"
    script.write_text(SCRIPT)
    tree = unpack(before, Path(tempfile.mkdtemp(dir=tmp))) if before else None
    # with `after`, "after" is that ref's tree too, so the checkout may change while this runs
    after_tree = unpack(after, Path(tempfile.mkdtemp(dir=tmp))) if after else None
    figures: dict[str, Any] = {"before_ref": before} if before else {}
    figures |= {"after_ref": after} if after else {}
    for nx, ny in sizes:
        points = nx * ny
        request = tmp / f"sweep-{points}.yaml"
        request.write_text(yaml.safe_dump(sweep_file(nx, ny)))
        settings = tmp / "settings.yaml"  # only over the default max_points cap: defaults otherwise
        settings.write_text(yaml.safe_dump({"max_points": points}))
        extra = ["--settings", str(settings)] if points > DEFAULT_MAX_POINTS else []
        runs: dict[str, list[float]] = {"script_s": [], "sweep_run_s": []}
        with_before = tree is not None and points <= before_max_points
        if with_before:
            runs["sweep_run_before_s"] = []
        for i in range(repeats):
            out = tmp / f"script-{points}-{i}.parquet"
            runs["script_s"].append(timed([sys.executable, str(script), str(nx), str(ny), str(out)]))
            results = tmp / f"results-{points}-{i}"
            if after_tree is None:
                runs["sweep_run_s"].append(timed([sweep, "run", str(request), "--out", str(results), *extra]))
            else:
                command = [sys.executable, "-c", SWEEP_MAIN, "run", str(request), "--out", str(results), *extra]
                runs["sweep_run_s"].append(timed(command, environ(after_tree, results)))
            shutil.rmtree(results, ignore_errors=True)
            if with_before:
                command = [sys.executable, "-c", SWEEP_MAIN, "run", str(request), "--out", str(results), *extra]
                runs["sweep_run_before_s"].append(timed(command, environ(tree, results)))
                shutil.rmtree(results, ignore_errors=True)
            out.unlink(missing_ok=True)
        medians = {key: statistics.median(values) for key, values in runs.items()}
        figures[f"{points}_points"] = {
            **{k: [round(v, 3) for v in vs] for k, vs in runs.items()},
            **{k.replace("_s", "_median_s"): round(v, 3) for k, v in medians.items()},
            "sweep_over_script": round(medians["sweep_run_s"] / medians["script_s"], 2),
            **(
                {"before_over_script": round(medians["sweep_run_before_s"] / medians["script_s"], 2)}
                if with_before
                else {}
            ),
        }
    return figures


def sizes_from(text: str) -> tuple[tuple[int, int], ...]:
    """`500x400,2000x1000` → ((500, 400), (2000, 1000))."""
    return tuple((int(a), int(b)) for a, b in (item.split("x") for item in text.split(",")))
