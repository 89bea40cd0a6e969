"""Mutation testing (`make mutation`): how many deliberate bugs in the point, planning, task and
worker-runner code do their own tests catch? Slow (tens of minutes on 2 cores), so not in `make test`.

cosmic-ray lists the mutants and applies each in place, one at a time, restoring the file after;
only the tests that are about the module run against it. Starting pytest costs more than these
tests (moto, pydantic, hypothesis imports on a busy machine), so one warm process imports the
libraries once and forks a child per mutant, which imports our code from the mutated file.
Do not edit the tree meanwhile.

    uv run --frozen python bench/mutation.py [points planning tasks runner evaluate]
    MUTATION_SAMPLE=25 uv run --frozen python bench/mutation.py   # a bounded sample per module
    uv run --frozen python bench/mutation.py --report                # scores of the last sessions

Writes build/mutation/<module>.sqlite (the cosmic-ray session: `cr-report` reads it) and
build/mutation/<module>-survivors.txt (every mutant no test caught), and prints one score per module.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Imported once here, so each forked child starts with them loaded.
import boto3  # noqa: F401
import cosmic_ray.mutating
import hypothesis  # noqa: F401
import moto  # noqa: F401
import pydantic  # noqa: F401
import pytest
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkItem

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "mutation"
BIN = Path(sys.executable).parent
CONTRACTS = "libs/sweep_contracts/src/sweep_contracts"

WORKER_TESTS = (
    # the worker's outcomes and rows seen from the store, then the files about one way a shard ends;
    # fastest and most telling first: pytest stops at the first failure (`-x`)
    "tests/functional/test_worker_outcomes.py",
    "tests/functional/test_worker.py",
    "tests/unit/test_budget.py",
    "tests/functional/test_failures.py",
    "tests/functional/test_redelivery.py",
    "tests/functional/test_secret_redaction.py",
    "tests/functional/test_crash_isolation.py",
)
TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "points": (
        f"{CONTRACTS}/points.py",
        (
            "tests/unit/test_points.py",
            "tests/unit/test_nested_overrides.py",
            "tests/unit/test_grid_configs.py",
            "tests/unit/test_point_texts.py",
        ),
    ),
    "planning": (f"{CONTRACTS}/planning.py", ("tests/unit/test_planning.py", "tests/unit/test_tasks.py")),
    "tasks": (
        f"{CONTRACTS}/tasks.py",
        ("tests/unit/test_tasks.py", "tests/unit/test_fanout_tree.py", "tests/functional/test_worker.py"),
    ),
    "runner": ("services/worker/src/sweep_worker/runner.py", WORKER_TESTS),
    # Point evaluation moved out of runner.py; the same tests cover both halves, and the LLM
    # protocols' and uncooperative points' files the concurrent and interrupted paths
    "evaluate": (
        "services/worker/src/sweep_worker/evaluate.py",
        (
            *WORKER_TESTS,
            "tests/functional/test_uncooperative_points.py",
            "tests/functional/test_llm_protocols.py",
        ),
    ),
}

# Bit, shift, power and modulo swaps of arithmetic this code does not do, and `x is None` flips
# that the type checker already rules out, multiply the run time without telling us about tests.
EXCLUDED_OPERATORS = (
    r"core/ReplaceBinaryOperator_.*_(BitOr|BitAnd|BitXor|LShift|RShift|Pow|Mod|FloorDiv)$",
    r"core/ReplaceBinaryOperator_(BitOr|BitAnd|BitXor|LShift|RShift|Pow|Mod|FloorDiv)_.*",
    r"core/ReplaceComparisonOperator_(Is|IsNot|In|NotIn)_.*",
    r"core/ReplaceComparisonOperator_.*_(Is|IsNot|In|NotIn)$",
)
TIMEOUT_S = 120.0
"""At least this long per mutant; longer when the unmutated tests take more than a fifth of it."""
SAMPLE = int(os.environ.get("MUTATION_SAMPLE", "0"))
"""Test at most this many mutants per module, evenly spread over the list (0: all of them)."""


def _forked_pytest(test_command: str, timeout: float) -> tuple[TestOutcome, str]:
    """cosmic-ray's `run_tests`, in a child of this warm process instead of a new interpreter."""
    args = shlex.split(test_command)[3:]  # drop `python -m pytest`
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "out"
        pid = os.fork()
        if pid == 0:  # child: never cache a mutant's bytecode, where a later same-size mutant could read it
            sys.dont_write_bytecode = True
            fd = os.open(log, os.O_WRONLY | os.O_CREAT)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os._exit(int(pytest.main(args)))
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return TestOutcome.KILLED, "timeout"
            time.sleep(0.05)
        code = os.waitstatus_to_exitcode(status)
        output = log.read_text(errors="replace")
    if code == 0:
        return TestOutcome.SURVIVED, output
    if code in (1, 2):  # failures, or an import error the mutant caused: both catch the mutant
        return TestOutcome.KILLED, output
    return TestOutcome.INCOMPETENT, output


def _position(item: WorkItem) -> tuple[tuple[int, int], str, int]:
    spec = item.mutations[0]
    return spec.start_pos, spec.operator_name, spec.occurrence


def _execute(config_path: Path, session: Path, test_command: str) -> None:
    cosmic_ray.mutating.run_tests = _forked_pytest
    # the unmutated tests must pass, or every mutant would count as killed; they also set the timeout
    began = time.monotonic()
    outcome, output = _forked_pytest(test_command, 10 * TIMEOUT_S)
    if outcome != TestOutcome.SURVIVED:
        raise SystemExit(f"{config_path.stem}: the tests fail on the unmutated code:\n{output[-3000:]}")
    timeout = max(TIMEOUT_S, 5 * (time.monotonic() - began))
    print(f"{config_path.stem}: unmutated tests pass in {time.monotonic() - began:.0f} s", flush=True)
    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = sorted(db.pending_work_items, key=_position)
        if SAMPLE and len(pending) > SAMPLE:
            pending = [pending[i * len(pending) // SAMPLE] for i in range(SAMPLE)]
        for number, item in enumerate(pending, 1):
            result = cosmic_ray.mutating.mutate_and_test(item.mutations, test_command, timeout)
            db.set_result(item.job_id, result)
            print(f"{config_path.stem} {number}/{len(pending)} {result.test_outcome}", flush=True)


def _command(tests: tuple[str, ...]) -> str:
    # the files this tree has: the same TARGETS run at an older commit, to compare before and after
    present = [test for test in tests if (ROOT / test).exists()]
    return "python -m pytest -x -q -p no:cacheprovider -p no:randomly " + " ".join(present)


def _config(module: str, tests: tuple[str, ...]) -> str:
    command = _command(tests)
    excluded = ", ".join(f"'{pattern}'" for pattern in EXCLUDED_OPERATORS)
    return (
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {TIMEOUT_S}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n\n'
        '[cosmic-ray.distributor]\nname = "local"\n\n'
        f"[cosmic-ray.filters.operators-filter]\nexclude-operators = [{excluded}]\n"
    )


HEADER = "| module | mutants | sampled | killed | survived | timeout | other | killed % |\n" + "| --- " * 8 + "|"


def _score(name: str, session: Path) -> str:
    """One row of the table: the population (mutants left after the operator filter), how many of
    them ran, and what became of those; a timeout counts as killed (the mutant made a test hang)."""
    killed = survived = timeout = other = population = 0
    survivors: list[str] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = {item.job_id: item for item in db.work_items}
        results = dict(db.results)
    for job_id, item in items.items():
        result = results.get(job_id)
        if result is not None and result.worker_outcome == WorkerOutcome.SKIPPED:
            continue
        population += 1
        if result is None:
            continue
        if result.test_outcome == TestOutcome.SURVIVED:
            survived += 1
            spec = item.mutations[0]
            survivors.append(f"{spec.module_path}:{spec.start_pos[0]} {spec.operator_name}\n{result.diff}")
        elif result.test_outcome == TestOutcome.KILLED and result.output == "timeout":
            timeout += 1
        elif result.test_outcome == TestOutcome.KILLED:
            killed += 1
        else:
            other += 1
    (OUT / f"{name}-survivors.txt").write_text("\n".join(survivors))
    sampled = killed + survived + timeout + other
    caught = killed + timeout
    rate = 100.0 * caught / (caught + survived) if caught + survived else 0.0
    return f"| {name} | {population} | {sampled} | {killed} | {survived} | {timeout} | {other} | {rate:.1f} % |"


def run(name: str) -> str:
    module, tests = TARGETS[name]
    config = OUT / f"{name}.toml"
    session = OUT / f"{name}.sqlite"
    config.write_text(_config(module, tests))
    session.unlink(missing_ok=True)
    subprocess.run([BIN / "cosmic-ray", "init", str(config), str(session)], cwd=ROOT, check=True)
    subprocess.run([BIN / "cr-filter-operators", str(session), str(config)], cwd=ROOT, check=True)
    _execute(config, session, _command(tests))
    return _score(name, session)


def main(argv: list[str]) -> int:
    report_only = "--report" in argv  # scores of the sessions already in build/mutation, run nothing
    argv = [a for a in argv if a != "--report"]
    names = argv or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        print(f"unknown module {unknown}; choose from {', '.join(TARGETS)}", file=sys.stderr)
        return 2
    # A stop must still put the mutated file back: exit through the restoring `with` blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    if report_only:
        lines = [_score(name, OUT / f"{name}.sqlite") for name in names if (OUT / f"{name}.sqlite").exists()]
    else:
        lines = [run(name) for name in names]
    print("\n".join([HEADER, *lines]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
