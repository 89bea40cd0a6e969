"""Adaptive search on this machine (issue 25): `sweep run` of a `search:` file runs rounds of
trials on the process pool, resumes after an interruption between rounds or in the middle of one,
asks the same trials for the same seed, and tells the optimiser each trial once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts import layout
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.search import round_run_id
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.runs import delete_run
from sweep_orchestrator.search import rounds as rounds_module

runner = CliRunner()

SEARCH = """
experiment: synthetic
run_id: search-local
config: {{noise: 0.0, fail_rate: {fail_rate}}}
search:
  space: {{x: {{uniform: [-1, 1]}}, y: {{uniform: [-1, 1]}}}}
  seed: 11
  budget: {{trials: 12}}
  batch: 4
  average_over: {{seed: [0, 1]}}
"""


def search_file(tmp_path: Path, fail_rate: float = 0.0) -> str:
    path = tmp_path / "search.yaml"
    path.write_text(SEARCH.format(fail_rate=fail_rate))
    return str(path)


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def history(out: Path) -> list[dict[str, Any]]:
    code, output = invoke("results", "search-local", "--out", str(out), "--format", "json")
    assert code == 0, output
    found: list[dict[str, Any]] = json.loads(output)["history"]
    return found


def trials(out: Path) -> list[tuple[int, dict[str, Any], str, float | None]]:
    return [(t["number"], t["params"], t["state"], t["value"]) for t in history(out)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One search run through without interruption: what every other run must reproduce."""
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "out"
    code, output = invoke("run", search_file(tmp), "--out", str(out), "--workers", "2")
    assert code == 0, output
    return out


def test_a_search_runs_its_rounds_and_shows_history_best_and_importances(reference: Path) -> None:
    store = LocalStore(reference)
    # THEN each round is a run whose series are its trials, two points each (seed 0 and 1)
    for number in range(3):
        assert store.exists(layout.manifest_key(round_run_id("search-local", number)))
    found = history(reference)
    assert [t["number"] for t in found] == list(range(12))
    assert all(t["state"] == "complete" and t["points_ok"] == 2 for t in found)
    # AND best-so-far is the running maximum of the objective
    running: list[float] = []
    for t in found:
        running.append(max([*running[-1:], t["value"]]))
    assert [t["best_so_far"] for t in found] == running
    code, output = invoke("results", "search-local", "--out", str(reference))
    assert code == 0
    assert "best setting (trial" in output
    assert "95% interval" in output
    assert "over 2 points (seed)" in output
    assert "parameter importances (PED-ANOVA): " in output
    code, output = invoke("status", "search-local", "--out", str(reference))
    assert (code, "3 of 3 rounds done, 12 of 12 trials (0 failed), budget left 0 trials" in output) == (0, True)


@pytest.mark.slow
def test_the_same_seed_asks_the_same_trials(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("run", search_file(tmp_path), "--out", str(out), "-w", "1", "-q")[0] == 0
    assert trials(out) == trials(reference)


@pytest.mark.slow
def test_a_search_interrupted_between_rounds_resumes_with_the_same_trials(reference: Path, tmp_path: Path) -> None:
    # GIVEN a search stopped after its second round (the third was never asked)
    out = tmp_path / "out"
    assert invoke("run", search_file(tmp_path), "--out", str(out), "-w", "2", "-q")[0] == 0
    delete_run(LocalStore(out), round_run_id("search-local", 2))
    # WHEN the same file is run again
    code, output = invoke("run", search_file(tmp_path), "--out", str(out), "-w", "2")
    # THEN it resumes: the third round asks what it asked the first time
    assert code == 0, output
    assert "resuming search-local" in output
    assert trials(out) == trials(reference)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["signal", "kill"])
def test_a_search_interrupted_mid_round_reruns_that_round_only(reference: Path, tmp_path: Path, how: str) -> None:
    # GIVEN a search whose second round was stopped with two shards unfinished: by a signal (the pool
    # records them INTERRUPTED) or by a kill (no outcome, no rows); the third round never began
    out = tmp_path / "out"
    assert invoke("run", search_file(tmp_path), "--out", str(out), "-w", "2", "-q")[0] == 0
    store = LocalStore(out)
    delete_run(store, round_run_id("search-local", 2))
    second = round_run_id("search-local", 1)
    for shard_id in (1, 2):
        for key in [*store.list(layout.shard_points_prefix(second, shard_id))]:
            store.delete(key)
        store.delete(layout.outcome_key(second, "success", shard_id))
    if how == "signal":
        failures = [ShardFailure(k, 1, 2, ErrorCode.INTERRUPTED, "the run was interrupted") for k in (1, 2)]
        record_failures(store, second, failures, datetime.now(UTC))
    # WHEN the search is resumed with `sweep retry`
    code, output = invoke("retry", "search-local", "--out", str(out), "-w", "2")
    # THEN the round's two shards run again, no trial is told as failed, and the trials are the same
    assert code == 0, output
    assert trials(out) == trials(reference)


@pytest.mark.slow
def test_each_trial_is_told_once_and_failed_trials_as_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a search where a quarter of the points raise
    told: list[list[tuple[int, str]]] = []
    ask = rounds_module.ask_round

    def spy(search: Any, finished: Any, number: int) -> Any:
        told.append([(t.number, t.state) for t in finished])
        return ask(search, finished, number)

    monkeypatch.setattr(rounds_module, "ask_round", spy)
    out = tmp_path / "out"
    code, output = invoke("run", search_file(tmp_path, fail_rate=0.25), "--out", str(out), "-w", "2")
    # THEN it exits 3 (some trials failed) and shows them as failed
    assert code == 3, output
    found = trials(out)
    states = [(n, state) for n, _, state, _ in found]
    assert "fail" in {s for _, s in states}
    assert "complete" in {s for _, s in states}
    # AND the optimiser of round r was told every trial of the rounds before it, once, failures as failed
    assert told == [[], states[:4], states[:8]]
    assert all(value is None for _, _, state, value in found if state == "fail")


def test_force_and_rm_remove_a_search_and_its_rounds(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = tmp_path / "small.yaml"
    path.write_text(SEARCH.format(fail_rate=0.0).replace("trials: 12", "trials: 4"))
    assert invoke("run", str(path), "--out", str(out), "-w", "2", "-q")[0] == 0
    code, output = invoke("run", str(path), "--out", str(out), "-w", "2", "-q", "--force")
    assert code == 0, output
    assert "--force: removed search search-local" in output
    code, output = invoke("rm", "search-local", "--out", str(out), "--yes")
    assert code == 0, output
    assert "removed search search-local and its rounds" in output
    assert list(LocalStore(out).list("")) == []


@pytest.mark.slow
def test_ctrl_c_mid_round_says_how_to_resume_the_search_and_retry_finishes_it(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    # GIVEN a search of slow points running in its own process
    out, path = tmp_path / "out", tmp_path / "slow.yaml"
    path.write_text(SEARCH.format(fail_rate=0.0).replace("noise: 0.0,", "noise: 0.0, sleep_ms: 400,"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweep_cli", "run", str(path), "--out", str(out), "-w", "2"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        # WHEN Ctrl-C reaches it during its second round
        deadline = time.monotonic() + 120
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("round 1/3") or time.monotonic() > deadline:
                break
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # THEN it exits 130 and names the search to resume, not the round
    assert code == 130, err
    assert f"Resume with: sweep retry search-local --out {out}" in err
    # AND `sweep retry` finishes the search with every trial complete
    code, output = invoke("retry", "search-local", "--out", str(out), "-w", "2", "-q")
    assert code == 0, output
    assert [(n, state) for n, _, state, _ in trials(out)] == [(n, "complete") for n in range(12)]
