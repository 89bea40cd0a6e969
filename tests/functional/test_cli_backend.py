"""One command, two backends: the options that choose between a results directory and a deployed
stage are declared once, checked once, and each command's body runs unchanged against either."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import sweep_cli
from sweep_cli import errors
from sweep_cli.backend import BackendOptions
from sweep_cli.local.backend import LocalBackend
from sweep_cli.main import app
from sweep_cli.runs import Backend
from sweep_cli.stage.backend import StageBackend
from sweep_cli.stage.remote import RetryPolicy
from sweep_cli.stage.resolve import resolve_stage, stage_region
from sweep_contracts.errors import SweepError
from tests.cloud import REGION
from tests.functional.test_cli_stage import FakeApi, api  # noqa: F401 - `api` is a fixture used below

runner = CliRunner()
SWEEP = """
experiment: synthetic
run_id: remote-1
config: {y: -0.2}
grid: {x: [0.1, 0.3, 0.5]}
repeats: 2
shard_size: 2
"""


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def chosen(monkeypatch: pytest.MonkeyPatch) -> list[Backend]:
    """Every backend a command builds, in order."""
    built: list[Backend] = []
    choose = BackendOptions.backend

    def recording(self: BackendOptions) -> Backend:
        backend = choose(self)
        built.append(backend)
        return backend

    monkeypatch.setattr(BackendOptions, "backend", recording)
    return built


def test_the_same_status_command_runs_once_against_either_backend(
    api: FakeApi,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    chosen: list[Backend],
) -> None:
    # GIVEN the same run, finished here and on the stage
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    out = str(tmp_path / "out")
    assert invoke("run", str(path), "--out", out, "-w", "1", "-q")[0] == 0
    assert invoke("submit", str(path), "--endpoint", api.url, "--region", REGION, "--watch")[0] == 0
    chosen.clear()
    # WHEN `status` asks each
    local_code, local_output = invoke("status", "remote-1", "--out", out, "--json")
    stage_code, stage_output = invoke("status", "remote-1", "--endpoint", api.url, "--region", REGION, "--json")
    # THEN each invocation chose its backend exactly once, and both answer the same status
    assert [type(b) for b in chosen] == [LocalBackend, StageBackend]
    assert (local_code, stage_code) == (0, 0)
    local, stage = json.loads(local_output), json.loads(stage_output)
    ignore = {"created_at", "first_recorded_at", "last_recorded_at"}  # the two runs ran at different times
    assert {k: v for k, v in local.items() if k not in ignore} == {k: v for k, v in stage.items() if k not in ignore}
    assert (local["state"], local["points_ok"]) == ("succeeded", 6)


def test_every_command_that_can_use_a_stage_declares_the_same_backend_options() -> None:
    # GIVEN the click commands typer built
    group = typer.main.get_command(app)
    declared = {}
    for name in ("status", "results", "runs", "retry", "submit"):
        command = group.commands[name]  # type: ignore[attr-defined]
        # WHEN we read each command's stage options
        params = {p.name: p for p in command.params}
        declared[name] = {
            option: (params[option].opts, params[option].help, params[option].envvar)
            for option in ("stage", "endpoint", "region")
        }
        # THEN those that also work locally have --out, and `submit` (stage only) has not
        assert ("out" in params) == (name != "submit"), name
    # AND every command declares them identically
    assert all(options == declared["status"] for options in declared.values())


def test_region_without_a_stage_is_refused_once_with_the_fix(tmp_path: Path, chosen: list[Backend]) -> None:
    # WHEN a local command is given a stage-only option
    code, output = invoke("runs", "--out", str(tmp_path), "--region", "eu-west-1")
    # THEN it fails before any backend is built, naming the option and the fix
    assert code == 2
    assert output.startswith(
        "error: --region eu-west-1 names the region of a deployed stage, but no stage was named.\n"
        "  hint: add --stage NAME (or --endpoint URL)"
    )
    assert chosen == []


def test_a_bad_stage_name_is_refused_before_anything_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no Pulumi CLI to ask
    code, output = invoke("status", "run-1", "--stage", "Dev_1")
    assert code == 2
    assert output.startswith("error: `Dev_1` is not a stage name.\n  hint: a stage name is lowercase letters")


def test_submit_without_a_stage_says_to_name_one(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    code, output = invoke("submit", str(path))
    assert code == 2
    assert output.startswith("error: `sweep submit` sends a sweep to a deployed stage.\n  hint: name one with --stage")


def test_a_failed_query_is_exit_1_not_bad_input(tmp_path: Path) -> None:
    # GIVEN a finished local run
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    out = str(tmp_path / "out")
    assert invoke("run", str(path), "--out", out, "-w", "1", "-q")[0] == 0
    # WHEN DuckDB cannot run the SQL
    code, output = invoke("results", "remote-1", "--out", out, "--sql", "SELECT nope FROM points")
    # THEN the exit code says a service failed (1), not that the input was bad (2)
    assert code == 1
    assert output.startswith('error: the query failed: Binder Error: Referenced column "nope" not found')


def test_an_unreachable_stage_is_exit_1_with_the_fix(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sweep_cli.stage.remote.DEFAULT_RETRY", RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05))
    code, output = invoke("status", "run-1", "--endpoint", "http://127.0.0.1:9", "--region", REGION)
    assert code == 1
    # a status poll is idempotent: tried 3 times, each retry said, then the one error paragraph
    retries, error = output.split("error: ", 1)
    assert [line.split(" (")[0] for line in retries.splitlines()] == ["retrying GET /runs/run-1"] * 2
    assert error.startswith("The stage's API at http://127.0.0.1:9 cannot be reached (connect timeout 5 s):")
    assert "hint: check the URL (the stack output `api_url`) and your network" in output


def test_every_cli_error_is_in_the_tree_its_module_draws() -> None:
    # GIVEN every module of the CLI, imported
    for module in pkgutil.walk_packages(sweep_cli.__path__, "sweep_cli."):
        if module.name != "sweep_cli.__main__":  # importing it runs the command
            importlib.import_module(module.name)

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    cli_errors = {c for c in subclasses(SweepError) if c.__module__.startswith("sweep_cli")}
    # THEN each is defined in sweep_cli.errors and drawn in its tree with its code and exit code
    assert {c.__module__ for c in cli_errors} == {"sweep_cli.errors"}
    tree = errors.__doc__ or ""
    for cls in cli_errors:
        line = next((line for line in tree.splitlines() if f" {cls.__name__} " in line), "")
        assert line, cls.__name__
        if cls is not errors.RemoteError:  # its code and status are the API's
            expected_exit = "2" if 400 <= cls.http_status < 500 else "1"
            assert line.split()[-3:] == [cls.code, str(cls.http_status), expected_exit], line


def test_the_region_of_a_stage_is_resolved_by_one_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stage whose own region (its Pulumi config, its URL) differs from the SDK's default region
    (tmp_path / "Pulumi.yaml").write_text("name: sweep\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("SWEEP_REGION", raising=False)
    url = "https://abc.execute-api.eu-west-1.amazonaws.com"
    # THEN the stage's own region wins over AWS_REGION, by name and by URL alike
    assert stage_region("dev", None) == resolve_stage(None, url, None).region == "eu-west-1"
    # AND SWEEP_REGION beats the stage's own, and --region beats everything, for both
    monkeypatch.setenv("SWEEP_REGION", "ap-south-1")
    assert stage_region("dev", None) == resolve_stage(None, url, None).region == "ap-south-1"
    assert stage_region("dev", "sa-east-1") == resolve_stage(None, url, "sa-east-1").region == "sa-east-1"
