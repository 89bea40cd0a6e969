"""`sweep params set NAME VALUE` (issue 10): through the stage's `PUT /settings/{name}`, SigV4-signed
like `submit` (the loopback stage checks every signature and runs the orchestrator handler inside
moto), with the seed command's care: a value that differs is kept without `--force`; without a known
API, straight to SSM."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from sweep_aws.ssm import SsmSettings
from sweep_cli.main import app
from sweep_orchestrator import deps
from sweep_orchestrator.deps import OrchestratorDeps
from sweep_orchestrator.runtime import Runtime
from tests.cloud import PREFIX, REGION, Stage
from tests.functional.test_bad_input_cli import run_cli
from tests.functional.test_cli_stage import FakeApi

runner = CliRunner()


@pytest.fixture
def api(stage: Stage) -> Iterator[FakeApi]:
    fake = FakeApi(stage)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()


def set_value(api: FakeApi, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["params", "set", *args, "--stage", "test", "--endpoint", api.url, "--region", REGION], terminal_width=200
    )
    return result.exit_code, result.output


def parameter(stage: Stage, name: str) -> tuple[str, int]:
    found: dict[str, Any] = stage.ssm.get_parameter(Name=PREFIX + name)["Parameter"]
    return found["Value"], found["Version"]


def test_a_new_experiment_default_is_created_through_the_api(api: FakeApi) -> None:
    # WHEN an operator sets maze's max_moves on a stage that has none
    code, output = set_value(api, "experiments.maze.max_moves", "800")
    # THEN it went through the signed API route, and SSM holds it at version 1
    assert code == 0, output
    assert ("PUT", "/settings/experiments.maze.max_moves") in api.requests
    assert parameter(api.stage, "experiments/maze/max_moves") == ("800", 1)
    assert "experiments.maze.max_moves │ " in output
    assert "│ create │ 1" in output
    assert "other warm orchestrators within 300 s" in output


def test_a_value_that_differs_is_kept_without_force_and_overwritten_with_it(api: FakeApi) -> None:
    # GIVEN shard_size at 50 in SSM
    api.stage.put_setting("shard_size", "50")
    # WHEN it is set to 40 without --force
    code, output = set_value(api, "shard_size", "40")
    # THEN nothing is written: the table shows what it would change and how
    assert code == 0, output
    assert "│ 50  │ 40     │ kept   │" in output
    assert "shard_size holds 50 and was kept; --force overwrites it." in output
    assert parameter(api.stage, "shard_size") == ("50", 1)
    assert not any(method == "PUT" for method, _ in api.requests)
    # WHEN it is set again with --force THEN the API writes it: version 2, and GET /settings shows it at once
    code, output = set_value(api, "shard_size", "40", "--force")
    assert code == 0, output
    assert "│ 50  │ 40     │ overwrite │ 2" in output
    assert parameter(api.stage, "shard_size") == ("40", 2)
    assert api.stage.call("GET", "/settings")[1]["settings"]["shard_size"] == {
        "value": 40,
        "source": "ssm",
        "version": 2,
    }
    # AND the same value once more changes nothing
    assert "│ unchanged │" in set_value(api, "shard_size", "40")[1]


def test_a_bad_value_is_refused_by_the_stage_naming_the_field(api: FakeApi) -> None:
    # WHEN maze's strategy is set to one maze does not know
    code, output = set_value(api, "experiments.maze.strategy", "teleport")
    # THEN exit 2, one paragraph naming the field, and nothing written
    assert code == 2, output
    assert output == (
        "error: `strategy` of experiment `maze` cannot be 'teleport': input should be 'wall-follower', "
        "'random-walk' or 'dfs-recall'.\n  hint: see the `maze` config fields with `sweep experiments maze`.\n"
    )
    assert "experiments/maze/strategy" not in [
        p["Name"][len(PREFIX) :] for p in api.stage.ssm.describe_parameters()["Parameters"]
    ]


def test_without_a_known_api_it_writes_ssm_directly(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no endpoint, no API URL in the environment, and no Pulumi project to ask
    monkeypatch.setenv("SWEEP_PULUMI_DIR", str(tmp_path))
    monkeypatch.delenv("SWEEP_API_URL", raising=False)
    stage.put_setting("experiments/maze/max_moves", "500")
    # WHEN a default is set with and without --force
    kept = runner.invoke(
        app,
        ["params", "set", "experiments.maze.max_moves", "900", "--stage", "test", "--region", REGION],
        terminal_width=200,
    )
    forced = runner.invoke(
        app,
        ["params", "set", "experiments.maze.max_moves", "900", "--stage", "test", "--region", REGION, "--force"],
        terminal_width=200,
    )
    # THEN it says where it wrote, keeps first, then overwrites, validated by the experiment here
    assert kept.exit_code == 0, kept.output
    assert "in SSM under /sweep/test/ (no API known for stage `test`)" in kept.output
    assert "kept" in kept.output
    assert forced.exit_code == 0, forced.output
    assert parameter(stage, "experiments/maze/max_moves") == ("900", 2)
    bad = runner.invoke(
        app, ["params", "set", "experiments.maze.max_moves", "lots", "--stage", "test", "--region", REGION, "--force"]
    )
    assert bad.exit_code == 2, bad.output
    assert bad.output.startswith("error: `max_moves` of experiment `maze` cannot be 'lots': input should be a valid")
    assert parameter(stage, "experiments/maze/max_moves") == ("900", 2)


@pytest.mark.parametrize(("name", "guess"), [("shard_size#", "shard_size"), ("max_points?limit=1", "max_points")])
def test_a_name_that_is_no_setting_is_refused_before_any_request_issue20(api: FakeApi, name: str, guess: str) -> None:
    # GIVEN shard_size and max_points held by the stage
    api.stage.put_setting("shard_size", "50")
    api.stage.put_setting("max_points", "500")
    # WHEN `sweep params set` (the real command, in its own process) is given a name with `#` or `?`
    result = run_cli("params", "set", name, "40", "--stage", "test", "--endpoint", api.url, "--region", REGION)
    # THEN exit 2, one paragraph naming the name as given; no request reached the stage, nothing changed
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout + result.stderr == (
        f"error: `{name}` is not a setting; did you mean `{guess}`?\n"
        "  hint: a stage setting is one of max_points, max_shards, max_request_bytes, max_task_bytes, shard_size, "
        "min_shards, time_budget_margin_ms, shard_time_budget_s, dispatch_concurrency, dispatch_max_attempts, "
        "fanout_batch_size, worker_concurrency, max_event_age_s, refuse_expiring_runs, ssm_high_throughput, "
        "worker_memory_mb, worker_timeout_s, max_run_cost_usd, price_lambda_gb_s_nusd, price_lambda_request_nusd, "
        "price_s3_put_nusd, price_ssm_high_throughput_nusd, price_athena_gb_nusd; an experiment default is `experiments.<experiment>.<key>`.\n"
    )
    assert api.requests == []
    assert parameter(api.stage, "shard_size") == ("50", 1)
    assert parameter(api.stage, "max_points") == ("500", 1)


def test_an_experiment_default_name_is_sent_as_one_encoded_path_segment_issue20(api: FakeApi) -> None:
    code, output = set_value(api, "experiments.maze.max_moves", "800")
    assert code == 0, output
    assert ("PUT", "/settings/experiments.maze.max_moves") in api.requests
    for name in ("experiments.maze#.size", "experiments.maze.size?x=1", "experiments.maze.a/b", "experiments..size"):
        code, output = set_value(api, name, "800")
        assert code == 2, output
        assert output.startswith(f"error: `{name}` does not name an experiment default."), output
    assert [r for r in api.requests if r[0] == "PUT"] == [("PUT", "/settings/experiments.maze.max_moves")]


@pytest.fixture
def stale_instance(api: FakeApi) -> Iterator[OrchestratorDeps]:
    """A second warm orchestrator, whose settings cache was filled before another admin wrote."""
    first = deps.current()
    second = OrchestratorDeps(
        Runtime(
            store=api.stage.store, dispatcher=api.stage.dispatcher, settings=SsmSettings(PREFIX, client=api.stage.ssm)
        ),
        api.stage.dispatcher,
        "test",
        PREFIX,
        300,
    )
    deps.use(second)
    assert api.stage.call("GET", "/settings")[1]["settings"]["shard_size"]["source"] == "default"
    yield second
    deps.use(first)


def test_a_create_through_a_stale_orchestrator_keeps_what_another_admin_created_issue20(
    api: FakeApi, stale_instance: OrchestratorDeps
) -> None:
    # GIVEN another admin created shard_size=40 through another orchestrator, after this one cached the settings
    api.stage.ssm.put_parameter(Name=PREFIX + "shard_size", Value="40", Type="String")
    # WHEN this admin sets it to 60 without --force, through the stale orchestrator
    code, output = set_value(api, "shard_size", "60")
    # THEN SSM refuses the create; the CLI shows what the stage holds and keeps it
    assert code == 0, output
    assert "│ 40  │ 60     │ kept   │" in output
    assert "shard_size holds 40 and was kept; --force overwrites it." in output
    assert parameter(api.stage, "shard_size") == ("40", 1)
    # AND with --force it replaces exactly the version it was shown
    code, output = set_value(api, "shard_size", "60", "--force")
    assert code == 0, output
    assert "│ 40  │ 60     │ overwrite │ 2" in output
    assert parameter(api.stage, "shard_size") == ("60", 2)


def test_a_stale_cache_cannot_make_the_cli_overwrite_without_force_issue20(
    api: FakeApi, stale_instance: OrchestratorDeps
) -> None:
    # GIVEN another admin set shard_size to the value this admin wants, after this orchestrator cached it
    api.stage.ssm.put_parameter(Name=PREFIX + "shard_size", Value="60", Type="String")
    # WHEN this admin sets it to 60
    code, output = set_value(api, "shard_size", "60")
    # THEN nothing is written: it holds that value already
    assert code == 0, output
    assert "│ unchanged │" in output
    assert parameter(api.stage, "shard_size") == ("60", 1)


def test_without_an_api_a_create_does_not_replace_a_value_issue20(
    stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no API, and SSM writes that see shard_size appear between the CLI's read and its write
    monkeypatch.setenv("SWEEP_PULUMI_DIR", str(tmp_path))
    monkeypatch.delenv("SWEEP_API_URL", raising=False)
    from sweep_cli.stage import params_set

    read = params_set.SsmSetter.current

    def read_then_another_admin_writes(self: params_set.SsmSetter, name: str) -> Any:
        found = read(self, name)
        stage.ssm.put_parameter(Name=PREFIX + "shard_size", Value="40", Type="String")
        return found

    monkeypatch.setattr(params_set.SsmSetter, "current", read_then_another_admin_writes)
    # WHEN the CLI creates shard_size=60 without --force
    result = runner.invoke(
        app, ["params", "set", "shard_size", "60", "--stage", "test", "--region", REGION], terminal_width=200
    )
    # THEN SSM's create-only refuses it and the other admin's value stays
    assert result.exit_code == 0, result.output
    assert "kept" in result.output
    assert parameter(stage, "shard_size") == ("40", 1)


def test_a_write_that_lands_between_the_check_and_the_put_is_reported_issue20(api: FakeApi) -> None:
    # GIVEN shard_size=50, and another admin whose write lands right after the stage's version check
    api.stage.put_setting("shard_size", "50")
    other = boto3.client("ssm", region_name=REGION)

    def another_admin_writes(**_: Any) -> None:
        other.put_parameter(Name=PREFIX + "shard_size", Value="70", Type="String", Overwrite=True)

    api.stage.ssm.meta.events.register_first("before-call.ssm.PutParameter", another_admin_writes)
    try:
        # WHEN this admin overwrites it with --force
        code, output = set_value(api, "shard_size", "40", "--force")
    finally:
        api.stage.ssm.meta.events.unregister("before-call.ssm.PutParameter", another_admin_writes)
    # THEN the table shows the value it was shown, and the CLI says that another version was replaced
    assert code == 0, output
    assert "│ 50  │ 40     │ overwrite │ 3" in output
    assert "it replaced version 2, not the version shown" in output
    assert parameter(api.stage, "shard_size") == ("40", 3)
