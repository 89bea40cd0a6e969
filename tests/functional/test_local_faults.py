"""The local engine under faults, driven as a user drives it: `sweep run` in its own process, a
pool worker killed from outside, signals sent once the run has started. Every shard must end with
one outcome that tells the truth, and nothing may outlive the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts import layout
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.status import RunStatus, read_outcomes, run_status

pytestmark = pytest.mark.slow  # real `sweep run` processes, signalled: not in `make test-fast`

STARTUP_S = 90.0
"""Bound on waiting for a run to get going: this machine is shared and can be slow to start Python."""
EXIT_S = 30.0
REAPED_S = 5.0

SLOW = """
experiment: synthetic
run_id: {run_id}
config: {{y: -0.2, sleep_ms: {sleep_ms}}}
grid:
  x: [{xs}]
shard_size: 1
"""


def slow_sweep(tmp_path: Path, run_id: str, shards: int, sleep_ms: int) -> str:
    path = tmp_path / f"{run_id}.yaml"
    xs = ", ".join(f"{i / 100:.2f}" for i in range(shards))
    path.write_text(SLOW.format(run_id=run_id, sleep_ms=sleep_ms, xs=xs))
    return str(path)


def as_from_a_terminal() -> None:
    """A child's signal dispositions as a terminal's shell leaves them. A shell that starts pytest as
    a background job (`pytest &`, `nohup`) ignores SIGINT and SIGHUP in it, and an ignored signal stays
    ignored across exec: Python then installs no KeyboardInterrupt handler, and the Ctrl-C these tests
    send would reach a command that cannot hear it."""
    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def start_sweep(*args: str, cwd: Path) -> subprocess.Popen[str]:
    # its own session, as a shell gives a job its own process group: a Ctrl-C reaches the group
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    return subprocess.Popen(
        [sys.executable, "-m", "sweep_cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,  # noqa: PLW1509 - it only resets two signals, before exec
    )


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state) for every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of `pid` → its depth (1 for a child)."""
    children: dict[int, list[int]] = {}
    for child, (parent, state) in _proc_table().items():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found: dict[int, int] = {}
    todo = [(pid, 0)]
    while todo:
        parent, depth = todo.pop()
        for child in children.get(parent, []):
            if child not in found:
                found[child] = depth + 1
                todo.append((child, depth + 1))
    return found


def alive(pids: set[int]) -> set[int]:
    table = _proc_table()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def wait_for(condition: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"sweep ended (exit {proc.returncode}) before {what}: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {timeout:.0f} s")
        time.sleep(0.05)


def successes(out: Path, run_id: str) -> int:
    directory = out / layout.outcomes_prefix(run_id) / "status=success"
    return sum(1 for p in directory.glob("*.parquet")) if directory.is_dir() else 0


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=EXIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"sweep did not exit within {EXIT_S:.0f} s of the signal")
    return proc.returncode, err


def assert_reaped(pids: set[int]) -> None:
    deadline = time.monotonic() + REAPED_S
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pids), f"still running after the command ended: {sorted(alive(pids))}"


def every_shard_accounted(out: Path, run_id: str) -> RunStatus:
    status = run_status(LocalStore(out), run_id)
    assert status.shards_pending == 0, status.missing_shards
    assert status.state != "running"
    return status


def test_a_killed_pool_worker_fails_only_the_shard_it_was_running(tmp_path: Path) -> None:
    # GIVEN a run of 40 one-point shards on 2 workers, under way
    out = tmp_path / "out"
    proc = start_sweep("run", slow_sweep(tmp_path, "killed", 40, 150), "--out", str(out), "-w", "2", cwd=tmp_path)
    wait_for(lambda: successes(out, "killed") >= 1, STARTUP_S, "first finished shard", proc)
    # WHEN one pool worker (a grandchild: sweep → forkserver → worker) is killed mid-shard
    workers = [pid for pid, depth in descendants(proc.pid).items() if depth == 2]
    assert workers, "no pool worker found"
    os.kill(workers[0], signal.SIGKILL)
    code, err = finish(proc)
    # THEN only its shard fails; the pool replaced the process and ran every other shard
    status = every_shard_accounted(out, "killed")
    assert code == 1, err
    assert (status.shards_success, status.error_codes) == (39, {"WORKER_CRASHED": 1}), status
    assert "signal SIGKILL" in (status.failed_shards[0].error_message or "")
    assert "Traceback" not in err, err


def test_a_point_that_ends_its_process_is_isolated_on_retry(tmp_path: Path) -> None:
    # GIVEN a shard whose points 1 and 3 end their process (os._exit), beside a shard that does not
    out = str(tmp_path / "out")
    points = "\n".join(f"  - {{x: {i}, crash: {str(i in (1, 3)).lower()}}}" for i in range(8))
    sweep = tmp_path / "crash.yaml"
    sweep.write_text(f"experiment: synthetic\nrun_id: crashy\nconfig: {{y: 0.0}}\npoints:\n{points}\nshard_size: 4\n")
    result = CliRunner().invoke(app, ["run", str(sweep), "--out", out, "-w", "2", "-q"])
    status = run_status(LocalStore(out), "crashy")
    assert (result.exit_code, status.shards_success, status.error_codes) == (1, 1, {"WORKER_CRASHED": 1})
    # WHEN the run is retried
    result = CliRunner().invoke(app, ["retry", "crashy", "--out", out, "-w", "2", "-q"])
    # THEN the crashing points are error rows WORKER_CRASHED, the others ran, and the shard succeeded
    assert result.exit_code == 3, result.output  # point errors, no failed shards
    status = run_status(LocalStore(out), "crashy")
    assert (status.state, status.points_ok, status.points_error) == ("completed_with_errors", 6, 2)
    assert read_outcomes(LocalStore(out), "crashy")[0].attempt == 2
    errors = CliRunner().invoke(
        app,
        [
            "results",
            "crashy",
            "--out",
            out,
            "-f",
            "csv",
            "--sql",
            "SELECT point_index, error_type FROM points WHERE status = 'error' ORDER BY 1",
        ],
    )
    assert errors.output == "point_index,error_type\n1,WORKER_CRASHED\n3,WORKER_CRASHED\n"


SIGNALLED = [
    pytest.param((signal.SIGINT, signal.SIGINT), True, 130, id="ctrl-c-twice"),
    pytest.param((signal.SIGTERM,), False, 143, id="sigterm"),
    pytest.param((signal.SIGINT,), True, 130, id="ctrl-c", marks=pytest.mark.long),
    pytest.param((signal.SIGHUP,), True, 129, id="sighup", marks=pytest.mark.long),
    pytest.param((signal.SIGTERM,), True, 143, id="sigterm-to-group", marks=pytest.mark.long),
]


@pytest.mark.parametrize(("signals", "to_group", "expected"), SIGNALLED)
def test_a_signal_ends_the_run_cleanly(
    tmp_path: Path, signals: tuple[signal.Signals, ...], to_group: bool, expected: int
) -> None:
    # GIVEN a run under way (Ctrl-C and a hangup reach the whole process group, as from a terminal)
    out = tmp_path / "out"
    proc = start_sweep("run", slow_sweep(tmp_path, "stopped", 16, 300), "--out", str(out), "-w", "2", cwd=tmp_path)
    wait_for(lambda: successes(out, "stopped") >= 1, STARTUP_S, "first finished shard", proc)
    family = set(descendants(proc.pid))
    # WHEN the signals arrive
    for number in signals:
        (os.killpg if to_group else os.kill)(proc.pid, number)
        time.sleep(0.05)
    code, err = finish(proc)
    # THEN finished shards are kept, the others are INTERRUPTED, nothing outlives the command
    status = every_shard_accounted(out, "stopped")
    assert status.shards_success >= 1
    assert status.error_codes == {"INTERRUPTED": status.shards_total - status.shards_success}
    assert (code, "Traceback" in err) == (expected, False), err
    assert_reaped(family)
    assert "Resume with: sweep retry stopped" in err
    if signals == (signal.SIGTERM,):
        # AND `sweep retry` completes the run
        result = CliRunner().invoke(app, ["retry", "stopped", "--out", str(out), "-w", "2", "-q"])
        assert result.exit_code == 0, result.output
        assert run_status(LocalStore(out), "stopped").state == "succeeded"


@pytest.mark.parametrize("code", [130, 143, 0, 1])
def test_after_a_signal_stopped_the_command_another_ctrl_c_cannot_kill_its_exit(code: int) -> None:
    # GIVEN the `sweep` entry point, whose command ends with `code` (130, 143: a signal stopped it)
    probe = (
        "import signal, sys\n"
        "import sweep_cli.main as m\n"
        f"m.app = lambda: sys.exit({code})\n"
        "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
        "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        preexec_fn=as_from_a_terminal,
    )
    # THEN after a stop, Ctrl-C is ignored while the interpreter shuts down (Python no longer handles
    # it then, and it would kill the process mid-exit: exit -2, not 130); otherwise it is untouched
    assert done.stdout.strip() == str(code > 128)
