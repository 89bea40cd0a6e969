"""Benchmarks of the local engine, each as a ratio against a baseline measured in the same run.

    make bench                      # all of them, rewrites bench/RESULTS.md and bench/results.json
    uv run python bench/run.py throughput planning   # a selection

Runs are interleaved (baseline, candidate, baseline, …) and medians are reported, since this
machine is shared and noisy. Nothing here asserts a time: the targets are written beside the
figures for a reader to judge.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from benchmarks.common import Benchmark  # noqa: E402  (bench/ is on the path just above)

BENCHES = ("throughput", "scaling", "planning", "results", "dispatch", "throttle", "coldstart", "script", "status")
"""Each benchmark's name, in the order RESULTS.md lists them: its module is `bench/benchmarks/<name>.py`."""


def benchmark(name: str) -> Benchmark:
    """The benchmark `name`, its module imported when it is first asked for."""
    found: Benchmark = importlib.import_module(f"benchmarks.{name}").BENCHMARK
    return found


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
        headline = benchmark(r["key"]).headline(r["figures"])
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
            result = benchmark(name).run(Path(tmp), args.repeats)
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
