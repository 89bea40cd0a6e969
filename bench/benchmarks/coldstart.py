"""(f) cold start: importing the worker handler, `sweep --help`, a first and a warm shard
(the measuring is bench/coldstart.py)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Benchmark, Result


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


BENCHMARK = Benchmark(
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
)
