"""The rough edges a second day with `sweep` finds (issue 23, items 5-13), each held by a test."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app

runner = CliRunner()

SWEEP = """
experiment: synthetic
run_id: day-two
config: {y: -0.2}
grid:
  x: [0.0, 0.3]
"""


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def sweep(tmp_path: Path) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    return str(path)


def test_experiment_fields_show_required_and_bounds_23() -> None:
    # WHEN a user reads an experiment with required fields, and one with bounded fields
    code, stdout, _ = invoke("experiments", "openai-chat")
    # THEN a required field says so, not pydantic's sentinel
    assert code == 0
    assert "PydanticUndefined" not in stdout
    assert "required" in stdout
    # AND bounds are shown as a user writes them
    code, stdout, _ = invoke("experiments", "maze")
    assert "≥ 2, ≤ 301" in stdout
    assert "≥ 0, ≤ 1" in stdout


def test_a_metric_typo_is_bad_input_that_lists_the_recorded_metrics_23(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    recorded = "recorded metrics: checksum, distance, value."
    # WHEN a run is summarised by a metric it does not record
    code, stdout, stderr = invoke("run", sweep, "--out", out, "-w", "1", "-m", "valeu")
    # THEN it says so with the recorded ones and exits 2, as `report -m` does; the run's status is still shown
    assert code == 2, stdout + stderr
    assert "error: metric `valeu` was not recorded in run `day-two`." in stderr
    assert recorded in stderr
    assert "succeeded" in stdout
    # AND `results -m` and `compare -m` answer the same
    for args in (("results", "day-two"), ("compare", "day-two", "day-two")):
        code, stdout, stderr = invoke(*args, "--out", out, "-m", "valeu")
        assert (code, stdout) == (2, ""), args
        assert "error: metric `valeu` was not recorded in run `day-two`." in stderr
        assert recorded in stderr
    # AND a recorded metric still summarises
    assert invoke("results", "day-two", "--out", out, "-m", "distance")[0] == 0


def test_the_stages_metric_names_sql_runs_on_duckdb_23(tmp_path: Path, sweep: str) -> None:
    from sweep_cli.results.metrics import RECORDED_METRICS_SQL
    from sweep_cli.results.query import ResultsDB

    # GIVEN a local run
    out = tmp_path / "out"
    assert invoke("run", sweep, "--out", str(out), "-w", "1")[0] == 0
    # WHEN the SQL a stage sends Athena for the recorded metrics runs on DuckDB over the same views
    db = ResultsDB(out, "day-two")
    try:
        names = [row[0] for row in db.query(RECORDED_METRICS_SQL).rows]
        # THEN it names what the local check names
        assert names == db.metric_names() == ["checksum", "distance", "value"]
    finally:
        db.close()


def test_the_query_after_a_run_fits_a_terminal_and_head_shows_the_first_points_23(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    # WHEN a run finishes
    code, stdout, _ = invoke("run", sweep, "--out", out, "-w", "1")
    assert code == 0
    # THEN the follow-up names the axes and a metric, not every column of `points`
    said = " ".join(stdout.split())  # the console wraps long lines
    assert "SELECT * FROM points" not in said
    assert f"sweep results day-two --out {out} --head 5" in said
    assert "SELECT point_index, x, metrics['value'] AS value FROM points LIMIT 5" in said
    # AND `--head` shows the first points in one line each, within 120 columns
    code, stdout, _ = invoke("results", "day-two", "--out", out, "--head", "5")
    assert code == 0
    lines = stdout.splitlines()
    assert len(lines) == 2 + 4  # two points, a header and three rules
    assert max(map(len, lines)) <= 120
    assert [cell.strip() for cell in lines[1].split("┃")[1:-1]] == lines[1].split()[1::2]  # one name per column
    assert lines[1].split()[1::2] == ["point_index", "series", "status", "x", "value", "distance", "checksum"]


def test_plan_says_local_runs_size_shards_at_run_time_and_the_report_shows_the_note_23(
    tmp_path: Path, sweep: str
) -> None:
    out = tmp_path / "out"
    # WHEN a sweep without `shard_size` is planned
    code, stdout, _ = invoke("plan", sweep)
    # THEN the plan says its shards are a stage's, and that `sweep run` sizes its own at run time
    assert code == 0
    said = " ".join(stdout.split())
    assert "2 of 1 points (derived) on a stage; `sweep run` sizes local shards at run time" in said
    # AND with a sample, what the local run would pick
    code, stdout, _ = invoke("plan", sweep, "--sample", "2")
    assert code == 0
    assert "here about 2 of 1 points" in " ".join(stdout.split())
    # AND a settings file that sets `shard_size` gets no note: both engines take it
    settings = tmp_path / "settings.yaml"
    settings.write_text("shard_size: 1\n")
    code, stdout, _ = invoke("plan", sweep, "--settings", str(settings))
    assert (code, "at run time" in stdout) == (0, False)
    # WHEN the run's report is written, its settings table carries the note of the measured size
    assert invoke("run", sweep, "--out", str(out), "-w", "1", "-q")[0] == 0
    code, _, _ = invoke("report", "day-two", "--out", str(out), "--no-open")
    assert code == 0
    page = (out / "report-day-two.html").read_text()
    assert "<th>note</th>" in page
    assert "measured by the local engine" in page


SLOW = """
experiment: synthetic
run_id: slow
config: {sleep_ms: 4000}
grid:
  x: [0.5]
"""


def test_logs_lists_shards_that_hit_the_time_budget_with_the_point_that_ran_23(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    sweep = tmp_path / "slow.yaml"
    sweep.write_text(SLOW)
    settings = tmp_path / "settings.yaml"
    settings.write_text("shard_time_budget_s: 1\ntime_budget_margin_ms: 200\n")
    # GIVEN a run whose only point outlasts the shard's time budget
    code, _, _ = invoke("run", str(sweep), "--out", out, "-w", "1", "-q", "--settings", str(settings))
    assert code == 1
    # WHEN its logs are read
    code, stdout, stderr = invoke("logs", "slow", "--out", out)
    # THEN the shard is listed, with the point that was running and its config, not "no error rows"
    assert code == 0, stderr
    assert "no error rows" not in stdout + stderr
    said = " ".join(stdout.split())
    assert "shard 0 (attempt 1) TIME_BUDGET: 0 of 1 points have a row" in said
    assert (
        'stopped at point 0 (the shard\'s first point without a row): {"sleep_ms": 4000, "x": 0.5, "seed": 0}' in said
    )
    assert "point 0 ran past the time budget" in said


def test_run_set_of_a_setting_points_to_where_settings_go_23(sweep: str, tmp_path: Path) -> None:
    # WHEN a setting is given to `run --set`, which changes the sweep file
    code, stdout, stderr = invoke("run", sweep, "--out", str(tmp_path / "out"), "--set", "shard_time_budget_s=5")
    # THEN the refusal says it is a setting and where settings go
    assert (code, stdout) == (2, "")
    said = " ".join(stderr.split())
    assert "`shard_time_budget_s` is a setting, not a field of the sweep file" in said
    assert "hint: put settings in a YAML file given with `--settings FILE` (a line `shard_time_budget_s: 5`)" in said
    assert "`sweep retry RUN --set shard_time_budget_s=5`" in said


@pytest.mark.slow
def test_a_point_that_runs_long_is_named_under_the_progress_bar_23(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweep_cli import progress
    from sweep_cli.local import slow_points

    # GIVEN a run whose one point takes 2.5 s, and "long" set to 0.5 s (60 s in use)
    sweep = tmp_path / "slow.yaml"
    sweep.write_text(SLOW.replace("4000", "2500"))
    monkeypatch.setattr(slow_points, "SLOW_POINT_S", 0.5)
    notes: list[str | None] = []
    shown = progress.Bar.note
    monkeypatch.setattr(progress.Bar, "note", lambda bar, text: (notes.append(text), shown(bar, text)))
    # WHEN it runs
    code, _, stderr = invoke("run", str(sweep), "--out", str(tmp_path / "out"), "-w", "1")
    assert code == 0, stderr
    # THEN the progress line names the point, how long it has run, and the budget that would end it
    said = [text for text in notes if text]
    assert said, notes
    assert said[-1].startswith("point 0 has run for ")
    assert said[-1].endswith(
        "its shard's time budget ends it after 14 min 50 s (`shard_time_budget_s` 900 s less the margin 10 s; "
        "set it with `--settings FILE`)"
    )
    assert notes[0] is None  # nothing before it runs long


def test_rm_says_what_it_removes_and_asks_first_23(tmp_path: Path, sweep: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sweep_cli.commands import confirm
    from sweep_contracts.storage import LocalStore
    from sweep_orchestrator.runs import list_runs

    out = str(tmp_path / "out")
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q")[0] == 0
    # WHEN rm runs without a terminal and without --yes
    code, stdout, stderr = invoke("rm", "day-two", "--out", out)
    # THEN it says what it would remove, refuses, and removes nothing
    assert (code, stdout) == (2, "")
    assert f"sweep rm removes from {out}:\n  run day-two (synthetic): 2 points, succeeded, created " in stderr
    assert "error: nothing was removed: this command asks before it removes, and its input is not a terminal." in (
        " ".join(stderr.split())
    )
    assert "hint: pass --yes to remove without asking." in stderr
    assert [m.run_id for m in list_runs(LocalStore(out))] == ["day-two"]
    # WHEN a person at a terminal answers no, nothing is removed; yes removes it
    monkeypatch.setattr(confirm, "interactive", lambda: True)
    code, _, stderr = invoke("rm", "day-two", "--out", out, stdin="n\n")
    assert code == 1
    assert "nothing was removed." in stderr
    assert [m.run_id for m in list_runs(LocalStore(out))] == ["day-two"]
    code, stdout, _ = invoke("rm", "day-two", "--out", out, stdin="y\n")
    assert code == 0
    assert "removed run day-two (" in stdout  # after the echo of the answer
    assert list_runs(LocalStore(out)) == []


def test_make_clean_says_what_it_removes_and_asks_first_23(tmp_path: Path) -> None:
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[2]
    # GIVEN a copy of the Makefile beside an environment and a results directory with two runs
    (tmp_path / "scripts").mkdir()
    shutil.copy(root / "Makefile", tmp_path / "Makefile")
    shutil.copy(root / "scripts" / "clean.sh", tmp_path / "scripts" / "clean.sh")
    (tmp_path / ".venv").mkdir()
    for run in ("maze-example", "study-2"):
        (tmp_path / "sweep-results" / "runs" / f"run_id={run}").mkdir(parents=True)

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", "clean", *args],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # WHEN `make clean` runs without a terminal
    done = make()
    # THEN it says what it would remove, every run named, and removes nothing
    assert done.returncode != 0
    assert "make clean removes: .venv sweep-results" in done.stdout
    assert "with every run in sweep-results/ (2):\n    maze-example\n    study-2" in done.stdout
    assert "nothing was removed" in done.stderr
    assert "make clean YES=1" in done.stderr
    assert (tmp_path / ".venv").is_dir()
    assert (tmp_path / "sweep-results").is_dir()
    # WHEN it is told yes, it removes them
    done = make("YES=1")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / ".venv").exists()
    assert not (tmp_path / "sweep-results").exists()


TWICE = """
experiment: synthetic
run_id: twice
config: {sleep_ms: 1500}
grid:
  x: [0.1, 0.2, 0.3]
"""


@pytest.mark.slow
def test_a_second_run_of_a_running_file_says_so_and_follows_it_23(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    sweep = tmp_path / "twice.yaml"
    sweep.write_text(TWICE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    # GIVEN a `sweep run` of the file in its own process, holding the run's lock
    first = subprocess.Popen(
        [sys.executable, "-m", "sweep_cli", "run", str(sweep), "--out", str(out), "-w", "1", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lock = out / ".running" / "twice.json"
        deadline = time.monotonic() + 120
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock.exists(), first.communicate(timeout=60)
        assert json.loads(lock.read_text())["pid"] == first.pid
        # WHEN it is removed while it runs, it is refused
        code, _, stderr = invoke("rm", "twice", "--out", str(out), "--yes")
        if first.poll() is None and (out / "runs" / "run_id=twice").exists():
            assert code == 2
            assert f"error: run twice is running in another `sweep run` (process {first.pid} on " in stderr
        # WHEN the same file is run again while it runs
        code, stdout, stderr = invoke("run", str(sweep), "--out", str(out), "-w", "1")
        # THEN it says the run is running in that process, follows it, and ends as the run did
        assert f"run twice is running in another `sweep run` (process {first.pid} on " in stderr
        assert "following it until it ends." in stderr
        assert code == 0, stdout + stderr
        assert "run twice (synthetic)  succeeded" in stdout
        assert "points  3 ok, 0 error, 0 not run of 3" in stdout
    finally:
        assert first.wait(timeout=120) == 0
    # AND the lock is gone once the run is done
    assert not (out / ".running" / "twice.json").exists()


def test_a_lock_whose_process_is_gone_is_taken_over_23(tmp_path: Path, sweep: str) -> None:
    import json
    import socket
    import subprocess
    import sys

    out = tmp_path / "out"
    # GIVEN the lock of a `sweep run` that was killed (its process is gone)
    gone = subprocess.run([sys.executable, "-c", "pass"], check=True)
    del gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".running").mkdir(parents=True)
    record = {"pid": dead.pid, "host": socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00"}
    (out / ".running" / "day-two.json").write_text(json.dumps(record))
    # WHEN the file is run
    code, stdout, stderr = invoke("run", sweep, "--out", str(out), "-w", "1")
    # THEN it runs as if there were no lock, and leaves none
    assert code == 0, stderr
    assert "is running in another" not in stderr
    assert "succeeded" in stdout
    assert not (out / ".running" / "day-two.json").exists()
