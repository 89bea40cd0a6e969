"""The researcher's loop on the command line: override, rerun, replace, remove (issue 12)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.runs import list_runs, load_manifest

runner = CliRunner()

SWEEP = """
experiment: synthetic
run_id: loop-run
config: {y: -0.2}
grid:
  x: [0.0, 0.3]
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def sweep(tmp_path: Path) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    return str(path)


def test_overrides_and_run_id_are_what_the_run_records(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    # WHEN the user overrides a config value and an axis, and names the run
    code, stdout, _ = invoke(
        "run",
        sweep,
        "--out",
        out,
        "-w",
        "1",
        "-q",
        "--set",
        "config.y=0.5",
        "--set",
        "grid.x=[0.1, 0.2, 0.3]",
        "--run-id",
        "loop-two",
    )
    # THEN the run has that name (printed alone under -q) and records the effective request
    assert (code, stdout) == (0, "loop-two\n")
    request = load_manifest(LocalStore(out), "loop-two").request
    assert (request.config, request.grid) == ({"y": 0.5}, {"x": [0.1, 0.2, 0.3]})
    code, stdout, _ = invoke(
        "results", "loop-two", "--out", out, "-f", "json", "--sql", "SELECT count(*) AS n FROM points"
    )
    assert json.loads(stdout) == [{"n": 3}]


def test_an_override_is_validated_like_the_file(tmp_path: Path, sweep: str) -> None:
    code, _, stderr = invoke("run", sweep, "--out", str(tmp_path / "out"), "--set", "config.noise=-1")
    assert code == 2
    assert stderr.startswith("error: `config.noise`: input should be greater than or equal to 0")
    assert not (tmp_path / "out").exists()


def test_conflict_names_the_changed_fields_and_force_replaces_the_run(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q")[0] == 0
    # WHEN the same run_id is run with another value
    code, _, stderr = invoke("run", sweep, "--out", out, "-w", "1", "--set", "config.y=0.1")
    # THEN the conflict shows what differs and how to go on
    assert code == 2
    assert "run `loop-run` already exists with other content: `config.y`: -0.2 → 0.1." in stderr
    assert "--force" in stderr
    assert "--run-id" in stderr
    # WHEN it is forced
    code, _, stderr = invoke("run", sweep, "--out", out, "-w", "1", "-q", "--set", "config.y=0.1", "--force")
    # THEN the old results are gone and the run holds the new ones only
    assert code == 0, stderr
    assert "--force: removed run loop-run" in stderr
    assert load_manifest(LocalStore(out), "loop-run").request.config == {"y": 0.1}
    _, stdout, _ = invoke(
        "results", "loop-run", "--out", out, "-f", "json", "--sql", "SELECT DISTINCT config_json FROM points"
    )
    assert all('"y":0.1' in row["config_json"].replace(" ", "") for row in json.loads(stdout))


def test_rerun_after_the_code_changed_says_so(tmp_path: Path, sweep: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = str(tmp_path / "out")
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q")[0] == 0
    # GIVEN the code is now at another version than the one the run recorded
    monkeypatch.setattr("sweep_cli.local.backend.code_version", lambda: {"sweep": "0.0.0", "build": "git:other"})
    # WHEN the same file is run again
    code, _, stderr = invoke("run", sweep, "--out", out, "-w", "1")
    # THEN sweep shows the old run but says the code changed and how to rerun
    assert code == 0
    assert "already exists with this content" in stderr
    assert "the code changed since it ran" in stderr
    assert "`build`:" in stderr
    assert '"git:other"' in stderr
    assert "--force" in stderr


def test_rm_removes_a_run_and_an_unknown_one_is_an_error(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q")[0] == 0
    code, stdout, _ = invoke("rm", "loop-run", "--out", out, "--yes")
    assert code == 0
    assert stdout.startswith("removed run loop-run (")
    assert list_runs(LocalStore(out)) == []
    assert not any(p.is_file() for p in Path(out).rglob("*") if "loop-run" in str(p))
    code, _, stderr = invoke("rm", "loop-run", "--out", out, "--yes")
    assert code == 2
    assert stderr.startswith("error: there is no run `loop-run`")


def test_plan_shows_nested_overrides_merged(tmp_path: Path) -> None:
    # GIVEN a nested config mapping and a dotted axis inside it
    path = tmp_path / "nested.yaml"
    path.write_text(
        "experiment: openai-chat\nconfig:\n  endpoint: http://127.0.0.1:9\n  model: m\n  tasks: arithmetic\n"
        "  extra: {top_k: 40, min_p: 0.1}\ngrid:\n  extra.top_k: [10, 20]\n"
    )
    # WHEN a nested key is overridden and the plan is shown
    code, stdout, _ = invoke("plan", str(path), "--set", "config.extra.min_p=0.2")
    # THEN each point's `extra` holds the axis value and the other keys
    assert code == 0
    assert '"extra": {"top_k": 10, "min_p": 0.2}' in stdout
    assert '"extra": {"top_k": 20, "min_p": 0.2}' in stdout


def test_retry_after_time_budget_takes_the_setting_the_failure_names(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    # GIVEN a run whose shards cannot meet their time budget
    settings = tmp_path / "settings.yaml"
    settings.write_text("shard_time_budget_s: 1\ntime_budget_margin_ms: 2000\n")
    code, _, _ = invoke("run", sweep, "--out", out, "-w", "1", "-q", "--settings", str(settings))
    assert code == 1
    # THEN the failure says which setting to raise, and how
    _, stdout, _ = invoke("status", "loop-run", "--out", out, "--json")
    message = json.loads(stdout)["failed_shards"][0]["error_message"]
    assert "Raise the setting `shard_time_budget_s` (this run: 1 s)" in message
    assert "`sweep retry loop-run --set shard_time_budget_s=2`" in message
    # WHEN a plan-shaping setting is given to retry, it is refused; the named one is accepted
    code, _, stderr = invoke("retry", "loop-run", "--out", out, "--set", "shard_size=5")
    assert code == 2
    assert stderr.startswith("error: setting `shard_size` cannot change on a retry")
    code, _, stderr = invoke("retry", "loop-run", "--out", out, "-w", "1", "-q", "--set", "shard_time_budget_s=60")
    # THEN the retried shards get the larger budget and the run completes
    assert code == 0, stderr
    assert load_manifest(LocalStore(out), "loop-run").settings["shard_time_budget_s"]["value"] == 1  # as planned


def test_try_runs_one_point_here_and_writes_nothing(
    tmp_path: Path, sweep: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # WHEN one point is tried
    code, stdout, stderr = invoke("try", sweep, "--point", "1")
    # THEN its metrics are printed, its effective config is shown, and nothing is written
    assert code == 0, stderr
    assert json.loads(stdout)["value"] == 0.0  # x=0.3, y=-0.2: the optimum
    assert 'point 1 (grid, repeat 0): {"y": -0.2, "x": 0.3, "seed": 0}' in stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "sweep.yaml"]
    # WHEN the point raises: the traceback reaches the terminal, exit 3
    code, _, stderr = invoke("try", sweep, "--set", "config.fail_rate=1.0")
    assert code == 3
    assert "Traceback (most recent call last)" in stderr
    assert "InjectedError" in stderr
    code, _, stderr = invoke("try", sweep, "--point", "2")
    assert code == 2
    assert stderr.startswith("error: --point 2 is outside this sweep's points 0..1.")


def test_version_and_literal_config_types_are_shown() -> None:
    code, stdout, _ = invoke("--version")
    assert code == 0
    assert re.fullmatch(r"sweep \d+\.\d+\.\d+.*\n", stdout)
    # `strategy` lists its allowed values, not the word "Literal"
    code, stdout, _ = invoke("experiments", "maze")
    assert code == 0
    assert '"wall-follower" | "random-walk" | "dfs-recall"' in stdout
    assert "Literal" not in stdout


def test_point_errors_keep_their_traceback_are_grouped_and_not_green(
    tmp_path: Path, sweep: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = str(tmp_path / "out")
    # GIVEN a run whose every point raises
    code, stdout, _ = invoke(
        "run",
        sweep,
        "--out",
        out,
        "-w",
        "1",
        "--set",
        "config.fail_rate=1.0",
        "--set",
        "config.echo=hello from a point",
    )
    # THEN the summary groups the errors with a count and an example, and the run failed: no point is ok
    assert code == 1
    assert "point errors\n       1 x InjectedError: injected failure at x=0.0, y=-0.2" in stdout
    assert "       1 x InjectedError: injected failure at x=0.3, y=-0.2" in stdout
    assert "(e.g. point 1: sweep logs loop-run --point 1)" in stdout
    assert "run loop-run (synthetic)  failed\n" in stdout
    # WHEN the user asks why
    code, stdout, _ = invoke("logs", "loop-run", "--out", out, "--point", "1")
    # THEN the error row's traceback is there, down to the raising line
    assert code == 0
    assert "point 1 (shard 1) error" in stdout
    assert "Traceback (most recent call last)" in stdout
    assert 'synthetic.py", line' in stdout
    assert "raise InjectedError" in stdout
    # and what the point printed is in its row, not on the terminal
    assert "log:\nhello from a point" in stdout
    code, stdout, _ = invoke("logs", "loop-run", "--out", out, "--shard", "0")
    assert stdout.count("Traceback (most recent call last)") == 1
    # the report groups them too, and opens in a browser where there is a display
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("CI", raising=False)
    code, _, _ = invoke("report", "loop-run", "--out", out)
    page = (Path(out) / "report-loop-run.html").read_text()
    assert "<h2>Point errors (2)</h2>" in page
    assert "injected failure at x=0.3, y=-0.2" in page
    assert opened == [(Path(out) / "report-loop-run.html").resolve().as_uri()]


def test_axis_columns_sort_as_numbers_in_the_points_view(tmp_path: Path, sweep: str) -> None:
    out = str(tmp_path / "out")
    # GIVEN an integer axis whose text sorts differently from its numbers
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q", "--set", "grid.seed=[16384, 2048, 300]")[0] == 0
    # WHEN the typed column is used
    sql = "SELECT seed, params['seed'] AS text FROM points ORDER BY seed LIMIT 3"
    code, stdout, _ = invoke("results", "loop-run", "--out", out, "-f", "json", "--sql", sql)
    # THEN it sorts as a number; the map keeps the text
    assert code == 0
    assert json.loads(stdout) == [
        {"seed": 300, "text": "300"},
        {"seed": 300, "text": "300"},
        {"seed": 2048, "text": "2048"},
    ]


def test_load_gives_a_dataframe_with_typed_axes_metrics_and_config(tmp_path: Path, sweep: str) -> None:
    import sweep as sweep_api

    out = tmp_path / "out"
    assert invoke("run", sweep, "--out", str(out), "-w", "1", "-q", "--set", "grid.seed=[3, 5]")[0] == 0
    # WHEN the run is loaded by id, and by the path of its points
    frame = sweep_api.load("loop-run", out=out)
    same = sweep_api.load(out / "points" / "run_id=loop-run")
    # THEN axes are typed columns, metrics are columns, the config is a dict
    assert len(frame) == 4
    assert list(frame["x"]) == [0.0, 0.3, 0.0, 0.3]
    assert str(frame["seed"].dtype) == "int64"
    assert list(frame["seed"]) == [3, 3, 5, 5]
    assert frame.loc[1, "value"] == pytest.approx(0.0)
    assert frame.loc[1, "config"] == {"y": -0.2, "x": 0.3, "seed": 3}
    assert list(same.columns) == list(frame.columns)
    assert list(same["value"]) == list(frame["value"])


def test_missing_aws_credentials_exit_2_from_params_as_from_submit(
    tmp_path: Path, sweep: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no AWS credentials anywhere
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # WHEN a stage command needs them THEN both say so the same way, exit 2 (the caller fixes it)
    code, _, stderr = invoke("params", "show", "--stage", "dev", "--region", "us-east-1")
    assert (code, stderr.splitlines()[0]) == (2, "error: No AWS credentials were found to call SSM.")
    code, _, stderr = invoke("submit", sweep, "--endpoint", "https://127.0.0.1:9/", "--region", "us-east-1")
    assert (code, stderr.splitlines()[0]) == (
        2,
        "error: No AWS credentials were found to sign the request to the stage's API.",
    )


def compared(out: str, sweep: str, *overrides: str) -> list[dict[str, Any]]:
    """`sweep compare` of two runs of `sweep` with `overrides`, the second with config.y = 0.0."""
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q", *overrides)[0] == 0
    second = [*overrides, "--set", "config.y=0.0", "--run-id", "loop-b"]
    assert invoke("run", sweep, "--out", out, "-w", "1", "-q", *second)[0] == 0
    code, stdout, _ = invoke("compare", "loop-run", "loop-b", "--out", out, "-f", "json")
    assert code == 0
    rows: list[dict[str, Any]] = json.loads(stdout)
    return rows


def test_compare_shows_the_metric_side_by_side_with_the_difference(tmp_path: Path, sweep: str) -> None:
    # GIVEN two runs of the same points, the second with another config value, 3 noisy repeats each
    # WHEN they are compared
    rows = compared(str(tmp_path / "out"), sweep, "--set", "config.noise=0.01", "--set", "repeats=3")
    # THEN each shared point has both means, their difference and its standard error
    assert [row["params"] for row in rows] == ['{"x":"0.0"}', '{"x":"0.3"}']
    for row in rows:
        assert row["n_a"] == row["n_b"] == 3
        assert row["difference"] == pytest.approx(row["mean_b"] - row["mean_a"])
        assert row["difference"] == pytest.approx(-0.04, abs=0.05)  # y: -0.2 → 0.0 costs 0.2² = 0.04
        assert 0 < row["difference_se"] < 0.05


def test_compare_lists_points_in_the_sweeps_own_order_not_as_text(tmp_path: Path, sweep: str) -> None:
    # GIVEN two runs over x = 2, 10, 9 (as text, "10" sorts before "2" and "9")
    # WHEN they are compared
    rows = compared(str(tmp_path / "out"), sweep, "--set", "grid.x=[2, 10, 9]")
    # THEN the points come in the order the sweep declares them
    assert [json.loads(row["params"])["x"] for row in rows] == ["2", "10", "9"]
