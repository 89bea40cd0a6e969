"""Bad sweep files through `sweep plan` / `sweep run`: exit 2 with one paragraph naming the problem, never a
traceback, a segfault or running out of memory (issue 8). Subprocesses run under a 1 GiB address-space
limit, so a loader that expands an alias bomb fails the test instead of the machine."""

from __future__ import annotations

import io
import resource
import subprocess
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from sweep_cli import launch
from sweep_cli.main import app
from tests.badinput import VALID_YAML, Tally, sweep_files

SWEEP = str(Path(sys.executable).with_name("sweep"))
MEMORY_LIMIT = 1 << 30
TALLY = Path(__file__).parents[2] / "build" / "reliability"
runner = CliRunner()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `sweep` command in a process of its own, with at most 1 GiB of memory."""
    return subprocess.run(  # noqa: PLW1510 - the caller judges the return code
        [SWEEP, *args], preexec_fn=_limit_memory, capture_output=True, text=True, timeout=timeout
    )


def sweep_in_process(*args: str) -> tuple[int, str]:
    """What `run_cli` runs, the `sweep` console script (`sweep_cli.launch:main`, with its exit-code and
    warning handling), in this process: (exit code, stderr + stdout). A traceback-worthy exception
    is exit 1 with `Traceback` in the output, as the real command would print it. No memory limit:
    one file per kind of damage also runs in `run_cli`'s limited process."""
    assert not launch.runs_locally(list(args)), "`sweep run` would start its fork server in pytest"
    out, err = io.StringIO(), io.StringIO()
    argv, show = sys.argv, warnings.showwarning
    sys.argv = [SWEEP, *args]
    code: int = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            launch.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except Exception as exc:  # the real command would die with a traceback: report it as one
        code, err = 1, io.StringIO(f"Traceback (most recent call last):\n{type(exc).__name__}: {exc}\n")
    finally:
        sys.argv, warnings.showwarning = argv, show  # main() wraps showwarning on every call
    return code, err.getvalue() + out.getvalue()


def answer_of(returncode: int, output: str) -> str:
    """How the CLI answered, for the tally: `exit 2`, `signal 11`, `exit 1 traceback`, …"""
    if returncode < 0:
        return f"signal {-returncode}"
    return f"exit {returncode}" + (" traceback" if "Traceback" in output else "")


def assert_clear_refusal(returncode: int, output: str, what: object) -> None:
    """Exit 0 (the damage left a valid sweep) or exit 2 with one paragraph starting `error:`."""
    assert returncode in (0, 2), (what, returncode, output[-2000:])
    assert "Traceback" not in output, (what, output[-2000:])
    if returncode == 2:
        message = output.strip()
        assert message.startswith("error: "), (what, output[-2000:])
        assert "\n\n" not in message, (what, output[-2000:])
        assert "hint: " in message, (what, output[-2000:])


def write(tmp_path: Path, data: bytes, name: str = "sweep.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


ALIAS_BOMB_300_BYTES = "experiment: synthetic\nconfig:\n a: &a [x,x,x,x,x,x,x,x]\n" + "".join(
    f" {n}: &{n} [{','.join([f'*{p}'] * 8)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
)
"""8**8 = 16.7 million values in 286 bytes: the loader used to expand them (minutes, then out of memory)."""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (VALID_YAML + "run_id: |\n  block-scalar\n", "run_id"),
        (VALID_YAML.replace("repeats: 2", "repeats: " + "9" * 5_000), "`repeats`: an integer of 5,000 digits"),
        (VALID_YAML + "{a: 1}: 2\n", "a list or mapping is used as a key"),
        ("experiment: synthetic\nconfig: " + "[" * 50_000 + "]" * 50_000 + "\n", "more than 32 levels deep"),
        (ALIAS_BOMB_300_BYTES, "with its aliases (`*name`) expanded"),
        (VALID_YAML.replace("repeats: 2", 'repeats: "2"'), "repeats"),
        (VALID_YAML.replace("repeats: 2", "repeats: true"), "repeats"),
        (VALID_YAML + "sample: {n: 3, space: {x: {uniform: [-1e308, 1e308]}}}\n", "sample.space.x"),
        (VALID_YAML + "description: |\n  text\n\x00\n", "control characters are not allowed"),
    ],
    ids=[
        "block-run-id",
        "5000-digits",
        "mapping-key",
        "nested-50000",
        "alias-bomb",
        "str-int",
        "bool-int",
        "dist",
        "nul",
    ],
)
def test_a_bad_sweep_file_exits_2_with_one_paragraph_8(tmp_path: Path, text: str, says: str) -> None:
    isolate = "levels deep" in says or "aliases" in says
    # GIVEN a sweep file that made `sweep plan` print a traceback, segfault or run out of memory
    path = write(tmp_path, (text.replace("grid:\n  x: [0.1, 0.2]\n", "") if "sample" in text else text).encode())
    # WHEN `sweep plan` reads it (in a process of its own, limited to 1 GiB, where a crash would
    # take the interpreter or the machine's memory with it)
    if isolate:
        done = run_cli("plan", path)
        returncode, output = done.returncode, done.stderr + done.stdout
    else:
        result = runner.invoke(app, ["plan", path])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        returncode, output = result.exit_code, result.output
    # THEN it exits 2 with one paragraph that names the problem
    assert_clear_refusal(returncode, output, text[:80])
    assert returncode == 2
    assert says in " ".join(output.split())


def test_the_alias_bomb_is_300_bytes() -> None:
    assert len(ALIAS_BOMB_300_BYTES) <= 300


def test_out_naming_a_file_is_a_usage_error_exit_2_8(tmp_path: Path) -> None:
    # GIVEN --out naming a file
    (tmp_path / "results").write_text("not a directory")
    # WHEN `sweep run` is asked to write there
    done = run_cli("run", write(tmp_path, VALID_YAML.encode()), "--out", str(tmp_path / "results"), "--quiet")
    # THEN it refuses before running anything, naming --out, with exit 2
    assert (done.returncode, done.stderr.split("\n")[0]) == (
        2,
        f"error: --out {tmp_path / 'results'} is a file, not a results directory.",
    )


def test_a_file_over_the_byte_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    # GIVEN settings capping requests at 2,000 bytes and a 5,000-byte file
    settings_file = write(tmp_path, b"max_request_bytes: 2000\n", "settings.yaml")
    path = write(tmp_path, VALID_YAML.encode() + b"#" * 5_000)
    # WHEN it is planned
    done = run_cli("plan", path, "--settings", settings_file)
    # THEN the cap is named
    assert done.returncode == 2
    assert "over the request limit of 2,000 bytes" in done.stderr


def check_in_process(tmp_path: Path, examples: int, tally: Tally) -> None:
    """`sweep plan` on generated files through typer's runner: the same code path, minus the process."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(sweep_files)
    def one(case: tuple[str, bytes]) -> None:
        kind, data = case
        result = runner.invoke(app, ["plan", write(tmp_path, data)])
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        tally.add(kind, answer_of(result.exit_code, "Traceback" if crashed else ""))
        assert not crashed, (kind, data[:300], repr(result.exception))
        assert_clear_refusal(result.exit_code, result.output, (kind, data[:300]))

    one()


def collect(examples: int) -> list[tuple[str, bytes]]:
    cases: list[tuple[str, bytes]] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(sweep_files)
    def gather(case: tuple[str, bytes]) -> None:
        cases.append(case)

    gather()
    return cases


def check_in_subprocesses(tmp_path: Path, cases: list[tuple[str, bytes]], tally: Tally) -> None:
    def one(numbered: tuple[int, tuple[str, bytes]]) -> tuple[str, bytes, subprocess.CompletedProcess[str]]:
        index, (kind, data) = numbered
        return kind, data, run_cli("plan", write(tmp_path, data, f"case-{index}.yaml"))

    run: Callable[[tuple[int, tuple[str, bytes]]], tuple[str, bytes, subprocess.CompletedProcess[str]]] = one
    with ThreadPoolExecutor(max_workers=2) as pool:
        for kind, data, done in pool.map(run, enumerate(cases)):
            output = done.stderr + done.stdout
            tally.add(kind, answer_of(done.returncode, output))
            assert done.returncode >= 0, (kind, data[:300], f"killed by signal {-done.returncode}")
            assert_clear_refusal(done.returncode, output, (kind, data[:300]))


@pytest.mark.slow  # measured 40-210 s on the shared machine: not in `make test-fast`
def test_generated_bad_sweep_files_exit_2_in_process(tmp_path: Path) -> None:
    # GIVEN 200 generated bad sweep files WHEN each is planned THEN none raises; each exits 0 or 2 cleanly
    tally = Tally()
    check_in_process(tmp_path, 200, tally)
    assert tally.total >= 200


@pytest.mark.slow  # measured 40-210 s on the shared machine: not in `make test-fast`
def test_generated_bad_sweep_files_exit_2_in_subprocesses(tmp_path: Path) -> None:
    # GIVEN 6 generated bad sweep files WHEN the real command plans each THEN no signal, traceback or OOM
    tally = Tally()
    check_in_subprocesses(tmp_path, collect(6), tally)
    assert tally.total >= 5


@pytest.mark.long
def test_thousands_of_generated_bad_sweep_files_in_process(tmp_path: Path) -> None:
    tally = Tally()
    check_in_process(tmp_path, 2_000, tally)
    tally.write(TALLY / "bad-input-cli-in-process.md", "Generated bad sweep files through `sweep plan` in-process")
    assert tally.total >= 2_000


def one_of_each_kind(cases: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """The first case of each kind of damage, and the rest."""
    first: dict[str, int] = {}
    for index, (kind, _) in enumerate(cases):
        first.setdefault(kind, index)
    chosen = set(first.values())
    return [cases[i] for i in sorted(chosen)], [c for i, c in enumerate(cases) if i not in chosen]


def check_through_the_entry_point(tmp_path: Path, cases: list[tuple[str, bytes]], tally: Tally) -> None:
    for index, (kind, data) in enumerate(cases):
        returncode, output = sweep_in_process("plan", write(tmp_path, data, f"in-process-{index}.yaml"))
        tally.add(kind, answer_of(returncode, output))
        assert_clear_refusal(returncode, output, (kind, data[:300]))


@pytest.mark.long
def test_five_hundred_generated_bad_sweep_files_in_subprocesses(tmp_path: Path) -> None:
    # GIVEN 520 generated bad sweep files: one of each kind of damage runs in the real command's own
    # process (1 GiB, where a segfault or memory blow-up would show), the others through the same
    # entry point in this process (a process each cost ~1 s of interpreter start on 2 cores)
    tally = Tally()
    cases = collect(520)
    each_kind, rest = one_of_each_kind(cases)
    check_in_subprocesses(tmp_path, each_kind, tally)
    check_through_the_entry_point(tmp_path, rest, tally)
    tally.write(TALLY / "bad-input-cli-subprocess.md", "Generated bad sweep files through the `sweep` entry point")
    assert tally.total >= 500
    assert {kind for kind, _ in each_kind} == {kind for kind, _ in cases}


@pytest.mark.slow  # measured 40-210 s on the shared machine: not in `make test-fast`
def test_the_entry_point_in_process_answers_as_the_command_does(tmp_path: Path) -> None:
    # GIVEN a bad sweep file, a good one, and `--help`
    bad = write(tmp_path, VALID_YAML.replace("repeats: 2", "repeats: true").encode(), "bad.yaml")
    good = write(tmp_path, (VALID_YAML + "run_id: same-run\n").encode(), "good.yaml")
    for args in (("plan", bad), ("plan", good), ("plan", "--help")):
        # WHEN each is planned in a process of its own and through the entry point in this one
        done = run_cli(*args)
        # THEN both answer alike: the same exit code and the same text
        assert sweep_in_process(*args) == (done.returncode, done.stderr + done.stdout), args
