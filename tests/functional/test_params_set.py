"""`sweep params set NAME VALUE` (issue 10): through the stage's `PUT /settings/{name}`, SigV4-signed
like `submit` (the loopback stage checks every signature and runs the orchestrator handler inside
moto), with the seed command's care: a value that differs is kept without `--force`; without a known
API, straight to SSM."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from tests.cloud import PREFIX, REGION, Stage
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
