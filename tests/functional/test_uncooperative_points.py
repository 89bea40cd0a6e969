"""Points that do not cooperate with the local engine (issue 20, item 10), run as a user runs them:
the real `sweep` command with a real installed experiment plugin (a `*.dist-info` on its
`PYTHONPATH`). A point that turns the budget's alarm off or swallows it, forks a child, or writes to
file descriptors 1 and 2 must still give every shard one truthful outcome, leave no process behind
and write nothing raw to the user's terminal."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts.storage import LocalStore
from sweep_orchestrator.status import read_outcomes, run_status
from tests.functional.test_local_faults import alive, assert_reaped
from tests.helpers import install_plugin, vouched_points_key

SWEEP = str(Path(sys.executable).with_name("sweep"))
RUN_S = 150.0
"""Bound on one `sweep run`: every hostile point below gives up on its own well before it."""

PLUGIN = """
import os, signal, time
from pydantic import BaseModel
from sweep_contracts.experiments import Experiment

class Config(BaseModel):
    x: int = 0
    mode: str = ""
    note: str = ""

def run(cfg):
    if cfg.mode in ("alarm-off", "swallow"):
        if cfg.mode == "alarm-off":  # as a timeout helper does on its way out
            signal.alarm(0)
            signal.setitimer(signal.ITIMER_REAL, 0)
        give_up = time.monotonic() + 40  # bounded: on the old code this point is `ok` after 40 s
        while time.monotonic() < give_up:
            try:
                time.sleep(0.05)
            except BaseException:
                pass
    if cfg.mode.startswith("fork"):
        pid = os.fork()
        if pid == 0:  # a server started with fork: lives on, holding what its parent held
            time.sleep(300)
            os._exit(0)
        with open(cfg.note, "w") as f:
            f.write(str(pid))
        if cfg.mode == "fork-die":
            os._exit(70)
    if cfg.mode == "exit":
        os._exit(70)
    if cfg.mode == "fd":
        # more than a pipe holds: whoever drains fd 1 while the point still writes gets a share
        os.write(1, b"." * 200_000 + b"RAW-FD1 \\x1b]52;c;aGk=\\x07\\n")
        os.write(2, b"RAW-FD2\\n")
    return {"value": float(cfg.x)}

EXPERIMENT = Experiment(name="hostile", config_model=Config, run=run, objective=None, metrics=("value",))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_plugin(tmp_path_factory.mktemp("site"), "hostile_plugin", PLUGIN, "hostile")


def sweep_run(
    site: Path, tmp_path: Path, run_id: str, points: list[dict[str, Any]], *extra: str, shard_size: int = 4
) -> tuple[int, str, str]:
    body = "\n".join("  - {" + ", ".join(f"{k}: {v!r}" for k, v in p.items()) + "}" for p in points)
    sweep = tmp_path / f"{run_id}.yaml"
    sweep.write_text(
        f"experiment: hostile\nrun_id: {run_id}\nconfig: {{x: 0}}\nshard_size: {shard_size}\npoints:\n{body}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    env.update(PYTHONPATH=str(site), COLUMNS="200")
    proc = subprocess.Popen(
        [SWEEP, "run", str(sweep), "--out", str(tmp_path / "out"), "-q", *extra],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=RUN_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"`sweep run` did not end within {RUN_S:.0f} s")
    return proc.returncode, out.decode(errors="backslashreplace"), err.decode(errors="backslashreplace")


def rows(out: Path, run_id: str, shard_id: int) -> list[dict[str, Any]]:
    store = LocalStore(out)
    key = vouched_points_key(store, run_id, shard_id)
    assert key is not None, "the shard's outcome vouches for no rows"
    return sorted(pq.read_table(io.BytesIO(store.get(key) or b"")).to_pylist(), key=lambda r: r["point_index"])


@contextlib.contextmanager
def forked_children(notes: list[Path]) -> Iterator[None]:
    """Kill whatever the points forked, should the test fail with them still alive."""
    try:
        yield
    finally:
        for note in notes:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(note.read_text()), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["alarm-off", "swallow"])
def test_a_point_that_defeats_the_alarm_is_ended_and_its_neighbours_kept(site: Path, tmp_path: Path, mode: str) -> None:
    # GIVEN a shard of 4 points on a 2 s budget whose point 2 turns the alarm off or swallows it
    settings = tmp_path / "settings.yaml"
    settings.write_text("shard_time_budget_s: 2\ntime_budget_margin_ms: 500\n")
    points = [{"x": i, "mode": mode if i == 2 else ""} for i in range(4)]
    # WHEN it runs
    code, _, err = sweep_run(site, tmp_path, "alarm", points, "--settings", str(settings), "-w", "1")
    # THEN the shard ends TIME_BUDGET naming point 2 (not `success` 40 s later), points 0 and 1 kept
    out = tmp_path / "out"
    outcome = read_outcomes(LocalStore(out), "alarm")[0]
    assert (code, outcome.status, outcome.error_code and outcome.error_code.value) == (1, "failure", "TIME_BUDGET"), err
    assert "point 2 ran past the time budget" in (outcome.error_message or "")
    assert [(r["point_index"], r["status"]) for r in rows(out, "alarm", 0)] == [(0, "ok"), (1, "ok")]
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_point_that_forks_and_dies_fails_its_shard_at_once_and_leaves_nothing(site: Path, tmp_path: Path) -> None:
    # GIVEN a point that forks a long-lived child and then ends its process, beside a healthy shard
    note = tmp_path / "child.pid"
    points = [{"x": 0, "mode": "fork-die", "note": str(note)}, {"x": 1}]
    with forked_children([note]):
        # WHEN it runs (the child keeps the pool process's pipe open for 300 s)
        code, _, err = sweep_run(site, tmp_path, "forkdie", points, "-w", "2", shard_size=1)
        # THEN its shard is WORKER_CRASHED as soon as its process died, the other shard succeeded,
        # and the child is gone with the command
        status = run_status(LocalStore(tmp_path / "out"), "forkdie")
        assert (code, status.shards_success, status.error_codes) == (1, 1, {"WORKER_CRASHED": 1}), err
        assert "exit code 70" in (status.failed_shards[0].error_message or "")
        assert_reaped({int(note.read_text())})


@pytest.mark.slow
def test_what_a_point_forks_does_not_outlive_the_command(site: Path, tmp_path: Path) -> None:
    # GIVEN a point that starts a server with fork and returns
    note = tmp_path / "child.pid"
    with forked_children([note]):
        # WHEN the run ends
        code, _, err = sweep_run(site, tmp_path, "forkleave", [{"x": 0, "mode": "fork-leave", "note": str(note)}])
        # THEN the point is ok and its child was ended with the pool
        assert code == 0, err
        child = int(note.read_text())
        assert_reaped({child})
        assert not alive({child})


@pytest.mark.slow
def test_writes_to_descriptors_1_and_2_never_reach_the_terminal(site: Path, tmp_path: Path) -> None:
    # GIVEN a point that writes to fd 1 and 2 directly (C code, a subprocess, os.write), with an OSC 52
    # WHEN it runs
    code, out, err = sweep_run(site, tmp_path, "fdwrite", [{"x": 0, "mode": "fd"}, {"x": 1}])
    # THEN nothing of it reached the command's stdout or stderr; the point's log holds it
    assert code == 0, err
    assert "RAW-FD" not in out + err
    assert "." * 1000 not in out + err
    assert "\x1b]52" not in out + err
    logs = {r["point_index"]: r["log"] for r in rows(tmp_path / "out", "fdwrite", 0)}
    assert "RAW-FD1" in (logs[0] or "")
    assert "RAW-FD2" in (logs[0] or "")
    assert logs[1] is None


@pytest.mark.slow
def test_writes_to_descriptors_1_and_2_are_captured_in_isolated_points_too(site: Path, tmp_path: Path) -> None:
    # GIVEN a run whose shard died (point 1 ends its process) after point 0 wrote to fds 1 and 2
    points = [{"x": 0, "mode": "fd"}, {"x": 1, "mode": "exit"}]
    code, out, err = sweep_run(site, tmp_path, "fdiso", points)
    assert code == 1, err
    # WHEN it is retried: its points run in forked children (`sweep_worker.isolate`)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    env.update(PYTHONPATH=str(site), COLUMNS="200")
    retried = subprocess.run(  # noqa: PLW1510 - the code is asserted below
        [SWEEP, "retry", "fdiso", "--out", str(tmp_path / "out"), "-q"],
        capture_output=True, cwd=tmp_path, env=env, timeout=RUN_S,
    )  # fmt: skip
    # THEN point 0's writes are in its log, not on the terminal; point 1 is a WORKER_CRASHED row
    text = (out + err).encode() + retried.stdout + retried.stderr
    assert retried.returncode == 3, retried.stderr
    assert b"RAW-FD" not in text
    assert b"." * 1000 not in text
    found = rows(tmp_path / "out", "fdiso", 0)
    assert "RAW-FD1" in (found[0]["log"] or "")
    assert (found[1]["status"], found[1]["error_type"]) == ("error", "WORKER_CRASHED")
