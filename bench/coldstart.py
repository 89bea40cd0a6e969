"""Cold start (f): what a fresh process pays before its first point, before and after, in the same run.

"Before" is the source tree of a git ref (`BEFORE`), unpacked with `git archive` and put
ahead of the installed workspace on PYTHONPATH, as it was: without bytecode for its own modules;
"before_bytecode" is the same tree compiled as `make install` now compiles the workspace, so that
before_bytecode → after is what the code changes gave; "after" is this checkout. Each candidate is a
new interpreter, run interleaved with the others; the floor is `python -c pass` in the same run.
Figures: whole-process wall time, and `python -X importtime`'s cumulative time of the module.

`artifact`: the worker's Lambda artifact built for this machine's platform and CPython 3.12 (the
runtime's version), unzipped, imported by an isolated 3.12 that may not write bytecode (as
/var/task is read-only), with the artifact's bytecode and with its `__pycache__` removed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = [
    "libs/sweep_contracts/src",
    "libs/sweep_aws/src",
    "libs/sweep_experiments/src",
    "services/orchestrator/src",
    "services/worker/src",
    "cli/src",
]
# The branch point of this round of issue 13 (the last stop's main, with bytecode): the "before" of the figures.
BEFORE = os.environ.get("SWEEP_COLDSTART_BEFORE", "e3d57e9")
WORKER = "import sweep_worker.handler"
HELP = (  # `sweep --help` as the console script runs it
    "import sys; sys.argv = ['sweep', '--help']\n"
    "try:\n    from sweep_cli.main import main; main()\nexcept SystemExit:\n    pass"
)

# A first shard and a warm one through the handler, as one pool process (or Lambda environment) runs them.
SHARD_PROBE = """
import json, os, sys, time
started = time.perf_counter()
from sweep_worker import handler
imported = time.perf_counter()
from sweep_cli.local._pool import LocalContext
events = json.loads(open(sys.argv[1]).read())
timings = []
for event in events:
    t = time.perf_counter()
    result = handler.handler(json.loads(event), LocalContext())
    timings.append((time.perf_counter() - t) * 1000)
print(json.dumps({"import_ms": (imported - started) * 1000, "first_shard_ms": timings[0],
                  "warm_shard_ms": sorted(timings[1:])[len(timings[1:]) // 2]}))
"""
# The same from an unzipped artifact (argv: its directory, the events): a bare context, as on Lambda.
ARTIFACT_PROBE = SHARD_PROBE.replace(
    "from sweep_worker import handler", "sys.path.insert(0, sys.argv[2])\nfrom sweep_worker import handler"
).replace(
    "from sweep_cli.local._pool import LocalContext",
    """
class LocalContext:
    aws_request_id, function_name, memory_limit_in_mb, invoked_function_arn = "bench", "w", 1769, "arn"
""",
)
SHARD_SWEEP = {
    "experiment": "synthetic",
    "run_id": "bench-coldstart",
    "config": {"noise": 0.0},
    "grid": {"x": [i / 100 for i in range(100)], "y": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]},
    "shard_size": 100,
}


def unpack(ref: str, into: Path) -> Path:
    """The source tree at `ref`, as files under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def environ(tree: Path | None, store: Path) -> dict[str, str]:
    env = {**os.environ, "SWEEP_STORE": str(store), "POWERTOOLS_LOG_LEVEL": "WARNING"}
    if tree is not None:  # the old sources shadow the editable installs of this checkout
        env["PYTHONPATH"] = os.pathsep.join(str(tree / d) for d in SOURCE_DIRS)
    return env


def wall_ms(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=120)
    return (time.perf_counter() - started) * 1000


def importtime_ms(module: str, code: str, env: dict[str, str]) -> float:
    """`python -X importtime`'s cumulative microseconds for `module`, in ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, check=True, capture_output=True, text=True
    )
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == module:
            return int(parts[1]) / 1000
    raise LookupError(f"{module} not in the import-time report")


def shard_events(tmp: Path) -> Path:
    from sweep_cli.local.engine import local_runtime
    from sweep_contracts.settings import SystemSettings
    from sweep_orchestrator.submit import prepare

    runtime, _ = local_runtime(tmp / "plan", 1, SystemSettings.resolve({}, source="default"))
    events = list(prepare(SHARD_SWEEP, runtime).task_factory().events())
    path = tmp / "events.json"
    path.write_text(json.dumps(events))
    return path


def compiled(tree: Path) -> Path:
    """`tree` with its workspace sources compiled as `make install` compiles them."""
    dirs = [str(tree / d) for d in SOURCE_DIRS]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash", *dirs], check=True)
    return tree


def run(tmp: Path, repeats: int, ref: str = BEFORE) -> dict[str, Any]:
    trees: dict[str, Path | None] = {
        "before": unpack(ref, Path(tempfile.mkdtemp(dir=tmp))),
        "before_bytecode": compiled(unpack(ref, Path(tempfile.mkdtemp(dir=tmp)))),
        "after": None,
    }
    events = shard_events(tmp)
    runs: dict[str, list[float]] = {}
    shards: dict[str, list[dict[str, float]]] = {name: [] for name in trees}

    def record(key: str, value: float) -> None:
        runs.setdefault(key, []).append(value)

    for i in range(repeats * 3):  # interleaved: floor, before, after, floor, …
        record("python_floor_ms", wall_ms("pass", environ(None, tmp / "floor")))
        for name, tree in trees.items():
            env = environ(tree, tmp / f"store-{name}-{i}")
            record(f"worker_import_{name}_ms", wall_ms(WORKER, env))
            record(f"worker_importtime_{name}_ms", importtime_ms("sweep_worker.handler", WORKER, env))
            record(f"sweep_help_{name}_ms", wall_ms(HELP, env))
            record(f"cli_importtime_{name}_ms", importtime_ms("sweep_cli.main", HELP, env))
            probe = subprocess.run(
                [sys.executable, "-c", SHARD_PROBE, str(events)], env=env, check=True, capture_output=True, text=True
            )
            shards[name].append(json.loads(probe.stdout.splitlines()[-1]))
    figures: dict[str, Any] = {"before_ref": ref, "runs": repeats * 3}
    figures |= {key: round(statistics.median(values), 1) for key, values in runs.items()}
    for name, probes in shards.items():
        for key in ("first_shard_ms", "warm_shard_ms"):
            figures[f"{key[:-3]}_{name}_ms"] = round(statistics.median(p[key] for p in probes), 1)
        # pyarrow moved from the import to the first shard: what a cold worker waits is the sum
        first = statistics.median(p["import_ms"] + p["first_shard_ms"] for p in probes)
        figures[f"import_and_first_shard_{name}_ms"] = round(first, 1)
    floor = figures["python_floor_ms"]
    for what in ("worker_import", "sweep_help"):
        before, after = figures[f"{what}_before_ms"], figures[f"{what}_after_ms"]
        figures[f"{what}_after_over_before"] = round((after - floor) / (before - floor), 3)
        figures[f"{what}_after_above_floor_ms"] = round(after - floor, 1)
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def artifact(tmp: Path, repeats: int) -> dict[str, Any]:
    """Importing the worker handler from its unzipped artifact under CPython 3.12, with and without
    the artifact's bytecode (skipped, and said so, where no 3.12 is installed)."""
    import platform
    import shutil
    import zipfile

    from sweep_infra import bytecode, packaging

    python = bytecode.interpreter(packaging.LAMBDA_PYTHON)
    if python is None:
        return {"skipped": bytecode.missing(packaging.LAMBDA_PYTHON)}
    built = packaging.build("worker", ROOT, tmp / "artifact", f"{platform.machine()}-manylinux_2_28")
    sites = {"with_bytecode": tmp / "site", "without_bytecode": tmp / "site-source"}
    zipfile.ZipFile(built.path).extractall(sites["with_bytecode"])
    shutil.copytree(sites["with_bytecode"], sites["without_bytecode"])
    for cache in sorted(sites["without_bytecode"].rglob("__pycache__")):
        shutil.rmtree(cache)
    (tmp / "artifact-events").mkdir(exist_ok=True)
    events = shard_events(tmp / "artifact-events")
    runs: dict[str, list[float]] = {}
    for i in range(repeats * 3):
        for name, site in {"floor": None, **sites}.items():
            env = {"PATH": "/usr/bin:/bin", "SWEEP_STORE": str(tmp / f"artifact-store-{name}-{i}")}
            code = "pass" if site is None else f"import sys; sys.path.insert(0, {str(site)!r}); {WORKER}"
            started = time.perf_counter()
            subprocess.run([str(python), "-I", "-B", "-c", code], env=env, check=True, capture_output=True)
            runs.setdefault(f"{name}_ms", []).append((time.perf_counter() - started) * 1000)
            if site is not None:  # a first and a warm shard, in the function's own process
                probe = [str(python), "-I", "-B", "-c", ARTIFACT_PROBE, str(events), str(site)]
                done = subprocess.run(probe, env=env, check=True, capture_output=True, text=True)
                for key, value in json.loads(done.stdout.splitlines()[-1]).items():
                    runs.setdefault(f"{name}_{key}", []).append(value)
    figures: dict[str, Any] = {"python": str(python), "runs": repeats * 3}
    figures |= {key: round(statistics.median(values), 1) for key, values in runs.items()}
    return figures


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="sweep-coldstart-") as tmp:
        repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 1
        print(json.dumps(run(Path(tmp), repeats) | {"artifact": artifact(Path(tmp), repeats)}, indent=2))
