"""The `sweep` command end to end: a real process pool, real Parquet, real DuckDB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweep_cli.local.sizing import SHARDS_PER_WORKER
from sweep_cli.main import app
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.status import run_status

runner = CliRunner()

SWEEP = """
experiment: synthetic
run_id: cli-run
config: {y: -0.2}
grid:
  x: [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
repeats: 5
"""


def sweep_file(tmp_path: Path, text: str = SWEEP, name: str = "sweep.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_run_uses_the_pool_writes_parquet_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke("run", sweep_file(tmp_path), "--out", str(out), "--workers", "2")
    assert code == 0, output
    assert "Summary — value (higher is better)" in output
    assert "x=0.3" in output  # the best point is the optimum
    assert "succeeded" in output
    status = run_status(LocalStore(out), "cli-run")
    # fast points: the local engine spreads them over SHARDS_PER_WORKER shards per pool process
    assert (status.state, status.points_ok, status.shards_total) == ("succeeded", 30, SHARDS_PER_WORKER * 2)
    # every shard ran in a pool process, through the Lambda handler with a local request id
    code, output = invoke(
        "results", "cli-run", "--out", str(out), "--format", "json", "--sql", "SELECT DISTINCT request_id FROM outcomes"
    )
    assert code == 0
    assert all(row["request_id"].startswith("local-") for row in json.loads(output))


def test_rerunning_the_same_file_answers_with_the_existing_run(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    assert invoke("run", sweep_file(tmp_path), "--out", out, "-w", "1", "-q")[0] == 0
    code, output = invoke("run", sweep_file(tmp_path), "--out", out, "-w", "1")
    assert code == 0
    assert "already exists with this content" in output


def test_results_formats(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    invoke("run", sweep_file(tmp_path), "--out", out, "-q")
    code, output = invoke(
        "results",
        "cli-run",
        "--out",
        out,
        "--format",
        "csv",
        "--sql",
        "SELECT point_index, params FROM points ORDER BY 1 LIMIT 2",
    )
    assert (code, output) == (0, 'point_index,params\n0,"{""x"": ""0.0""}"\n1,"{""x"": ""0.0""}"\n')
    code, output = invoke("results", "cli-run", "--out", out, "--format", "json")
    summary = json.loads(output)
    assert [(r["series"], r["points"], r["errors"], r["best_params"]) for r in summary] == [
        ("grid", 30, 0, {"x": "0.3"})
    ]


def test_bad_sweep_file_is_one_paragraph_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = sweep_file(tmp_path, SWEEP.replace("config: {y: -0.2}", "config: {}"))
    code, output = invoke("run", bad, "--out", str(out))
    assert code == 2
    assert output.startswith("error: `config` is empty; every sweep needs its experiment config.\n  hint: ")
    assert "Traceback" not in output
    assert not out.exists()


def test_unknown_experiment_config_field_exit_2(tmp_path: Path) -> None:
    bad = sweep_file(tmp_path, SWEEP.replace("x: [", "z: ["))
    code, output = invoke("run", bad, "--out", str(tmp_path / "out"))
    assert code == 2
    assert "error: `grid.z`: `z` is not a known field" in output


def test_point_errors_exit_3_and_failed_shards_exit_1(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    failing = sweep_file(tmp_path, SWEEP.replace("config: {y: -0.2}", "config: {y: -0.2, fail_rate: 0.5}"))
    code, output = invoke("run", failing, "--out", out, "-w", "2")
    assert code == 3, output
    # GIVEN a settings file whose time budget no shard can meet
    settings = sweep_file(tmp_path, "shard_time_budget_s: 1\ntime_budget_margin_ms: 2000\n", "settings.yaml")
    slow = sweep_file(tmp_path, SWEEP.replace("run_id: cli-run", "run_id: slow-run"), "slow.yaml")
    code, output = invoke("run", slow, "--out", out, "--settings", settings, "-w", "2")
    assert code == 1, output
    assert "TIME_BUDGET" in output
    assert "sweep retry slow-run" in output


def test_retry_completes_a_run_with_failed_shards(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    settings = sweep_file(tmp_path, "shard_time_budget_s: 1\ntime_budget_margin_ms: 2000\n", "settings.yaml")
    invoke("run", sweep_file(tmp_path), "--out", out, "--settings", settings, "-q")
    assert run_status(LocalStore(out), "cli-run").state == "failed"
    # the run keeps its settings: a retry with the same budget fails again, attempt 2
    code, _ = invoke("retry", "cli-run", "--out", out, "-q")
    status = run_status(LocalStore(out), "cli-run")
    assert code == 1
    assert {f.attempt for f in status.failed_shards} == {2}


def test_a_crashing_worker_process_gives_worker_crashed_outcomes(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    crashing = sweep_file(
        tmp_path, SWEEP.replace("config: {y: -0.2}", "config: {y: -0.2, crash: true}") + "shard_size: 10\n"
    )
    code, output = invoke("run", crashing, "--out", out, "-w", "2")
    assert code == 1, output
    status = run_status(LocalStore(out), "cli-run")
    assert status.shards_pending == 0  # nothing silently lost
    assert status.error_codes == {"WORKER_CRASHED": status.shards_total}


def test_plan_shows_points_shards_and_caps_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = invoke("plan", sweep_file(tmp_path), "--json")
    assert code == 0
    plan = json.loads(output)
    assert plan["plan"] | {"series": None} == {
        "points_total": 30,
        "shard_size": 1,
        "shard_count": 30,
        "shard_size_source": "derived",
        "repeats": 5,
        "series": None,
    }
    assert plan["settings"]["max_points"] == {"value": 1_000_000, "source": "default"}
    code, output = invoke("plan", sweep_file(tmp_path))
    assert code == 0
    assert "First points" in output
    assert list(tmp_path.iterdir()) == [tmp_path / "sweep.yaml"]


def test_plan_reports_caps_with_the_fix(tmp_path: Path) -> None:
    settings = sweep_file(tmp_path, "max_points: 10\n", "settings.yaml")
    code, output = invoke("plan", sweep_file(tmp_path), "--settings", settings)
    assert code == 2
    assert "error: the sweep has 30 points, over the limit of 10." in output


def test_bad_settings_file_names_the_valid_settings(tmp_path: Path) -> None:
    settings = sweep_file(tmp_path, "max_pints: 10\n", "settings.yaml")
    code, output = invoke("plan", sweep_file(tmp_path), "--settings", settings)
    assert code == 2
    assert "`max_pints` is not a setting; did you mean `max_points`?" in output


def test_status_runs_and_report(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    invoke("run", sweep_file(tmp_path), "--out", out, "-q")
    code, output = invoke("status", "cli-run", "--out", out, "--json")
    assert (code, json.loads(output)["state"]) == (0, "succeeded")
    code, output = invoke("runs", "--out", out)
    assert code == 0
    assert "cli-run" in output
    code, output = invoke("report", "cli-run", "--out", out)
    assert code == 0
    html = (Path(out) / "report-cli-run.html").read_text()
    # two figures: the metrics against the one axis, and the spread of the 5 repeats of each x
    assert html.count("<svg") == 2
    assert "metrics against <code>x</code>" in html
    assert "repeats: each metric's values at each repeated parameter combination" in html
    # self-contained: nothing to fetch (SVG's internal `url(#id)` references aside)
    assert not re.search(r"<script|<link|\ssrc=|url\((?!#)", html)


def test_status_of_an_unknown_run(tmp_path: Path) -> None:
    code, output = invoke("status", "nope", "--out", str(tmp_path))
    assert code == 2
    assert output.startswith("error: there is no run `nope`")


def test_experiments_lists_and_describes(tmp_path: Path) -> None:
    code, output = invoke("experiments")
    assert code == 0
    assert "maze" in output
    assert all(name in output for name in ("ollama", "openai-chat", "llm-maze"))
    code, output = invoke("experiments", "ollama")
    assert "num_ctx" in output
    code, output = invoke("experiments", "maze")
    assert "recall_interval" in output
    assert "objective: max efficiency" in output
