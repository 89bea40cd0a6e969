"""`sweep report` against `sweep run` and against the report of an older tree, same machine, same
run (issue 23, item 14; recorded in bench/RESULTS.md, section "Issue 23: the report").

    uv run python bench/report.py --base /work/wt/reportspeed-base [--repeats 3] [CASE …]

Cases: `maze` (examples/maze.yaml: the whole `sweep run` command, then the whole `sweep report`
command of this tree and of the base), `big` (100,000 points, 5 axes of 10 values), `values`
(one axis of 10,000 distinct strings), `long` (five 10,000-character values on a 5 × 2 grid,
3 repeats). Runs other than the maze are written straight to the results (tests/report_runs.py).

The base is a checkout of the older tree (`git worktree add --detach DIR main`); its report runs
with this tree's interpreter and packages, its sources first on PYTHONPATH, so only the code
differs. Commands alternate (base, new, base, …) since this machine is shared; the medians are
what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.report_runs import write_run  # noqa: E402

CASES = ("maze", "big", "values", "long")


def sources(tree: Path) -> str:
    """PYTHONPATH that puts a tree's packages before the installed (editable) ones."""
    found = [*sorted(tree.glob("libs/*/src")), *sorted(tree.glob("services/*/src")), tree / "cli/src", tree]
    return os.pathsep.join(str(p) for p in found)


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} … failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def report(tree: Path | None, out: Path, run_id: str, page: Path) -> tuple[float, int]:
    """The whole `sweep report` command of `tree` (None: the installed one): seconds and page bytes."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = sources(tree)
    command = [sys.executable, "-m", "sweep_cli", "report", run_id, "--out", str(out), "--no-open"]
    seconds = timed([*command, "--output", str(page)], env)
    return seconds, page.stat().st_size


Trees = tuple[Path, Path | None]
"""The base tree, and the tree measured as new (`--new`; None: the one installed here)."""


FRESH = {"copy": False}
"""`--fresh-copy`: remove the run's copy of its views (`cache/`) before each report, so every report
of the new tree is a first report, the one that writes the copy (issue 23)."""


def compare(trees: Trees, out: Path, run_id: str, repeats: int, extra: dict[str, list[float]]) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"base_s": [], "new_s": [], **extra}
    sizes = {}
    for _ in range(repeats):
        for name, tree in zip(("base", "new"), trees, strict=True):
            if FRESH["copy"]:
                shutil.rmtree(out / "cache", ignore_errors=True)
            seconds, size = report(tree, out, run_id, out / f"{name}.html")
            runs[f"{name}_s"].append(round(seconds, 2))
            sizes[f"{name}_page_bytes"] = size
    medians = {f"{k[:-2]}_median_s": round(statistics.median(v), 2) for k, v in runs.items() if v}
    return {**runs, **medians, **sizes}


def case_maze(trees: Trees, tmp: Path, repeats: int) -> dict[str, Any]:
    run_s = []
    for k in range(repeats):
        out = tmp / f"maze-{k}"  # a run id is written once per results directory
        command = [sys.executable, "-m", "sweep_cli", "run", "examples/maze.yaml", "--out", str(out), "-q"]
        run_s.append(round(timed(command), 2))
    return compare(trees, out, "maze-example", repeats, {"run_s": run_s})


def big_metrics(index: int, params: Any) -> dict[str, float]:
    x, y = float(params["x"]), float(params["y"])
    value = -((x - 0.3) ** 2 + (y + 0.2) ** 2) + (index % 13) / 100
    return {"value": value, "distance": abs(value), "checksum": float(index % 997)}


def case_big(trees: Trees, tmp: Path, repeats: int) -> dict[str, Any]:
    tenth = [i / 10 for i in range(10)]
    payload = {
        "experiment": "synthetic",
        "run_id": "big",
        "config": {"noise": 0.0},
        "grid": {"x": tenth, "y": tenth, "noise": tenth, "sleep_ms": tenth, "work": list(range(10))},
    }
    write_run(tmp / "big", payload, big_metrics)
    return compare(trees, tmp / "big", "big", repeats, {})


def case_values(trees: Trees, tmp: Path, repeats: int) -> dict[str, Any]:
    payload = {
        "experiment": "synthetic",
        "run_id": "values",
        "config": {"noise": 0.0},
        "grid": {"echo": [f"v{i}" for i in range(10_000)]},
    }
    write_run(tmp / "values", payload, lambda i, _: {"value": float(i % 7), "distance": 1.0, "checksum": 0.0})
    return compare(trees, tmp / "values", "values", repeats, {})


def case_long(trees: Trees, tmp: Path, repeats: int) -> dict[str, Any]:
    payload = {
        "experiment": "synthetic",
        "run_id": "long",
        "config": {"noise": 0.0},
        "grid": {"echo": [chr(ord("a") + i) * 10_000 for i in range(5)], "x": [0.0, 0.5]},
        "repeats": 3,
    }
    write_run(tmp / "long", payload, lambda i, p: {"value": float(i % 5), "distance": 1.0, "checksum": 0.0})
    return compare(trees, tmp / "long", "long", repeats, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    parser.add_argument("--base", type=Path, required=True, help="a checkout of the tree to compare with")
    parser.add_argument("--new", type=Path, help="a checkout to measure as new (default: this environment's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh-copy", action="store_true", help="every report a first one: no copy of the views kept")
    args = parser.parse_args()
    FRESH["copy"] = args.fresh_copy
    trees = (args.base.resolve(), args.new.resolve() if args.new else None)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}: choose from {', '.join(CASES)}")
    found: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="sweep-bench-report-") as tmp:
        for name in args.cases or CASES:
            found[name] = globals()[f"case_{name}"](trees, Path(tmp), args.repeats)
            print(name, json.dumps(found[name]), file=sys.stderr, flush=True)
    found["load_after"] = os.getloadavg()[0]
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
