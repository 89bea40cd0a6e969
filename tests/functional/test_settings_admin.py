"""`PUT /settings/{name}` (issue 10): a stage setting or an experiment's stage default, validated,
written to SSM (moto), this instance's cache cleared; `GET /settings` shows it; a bad name or value
is a 400 naming the field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cloud import PREFIX, Stage


def parameter(stage: Stage, name: str) -> dict[str, Any]:
    found: dict[str, Any] = stage.ssm.get_parameter(Name=PREFIX + name)["Parameter"]
    return found


def test_putting_a_stage_setting_bumps_its_version_and_get_shows_it_at_once(stage: Stage) -> None:
    # GIVEN shard_size at version 1, already read into this instance's cache
    stage.put_setting("shard_size", "50")
    assert stage.call("GET", "/settings")[1]["settings"]["shard_size"]["value"] == 50
    # WHEN an operator sets it through the API
    status, body = stage.call("PUT", "/settings/shard_size", {"value": 40})
    # THEN SSM holds it at version 2, and this instance answers with it without waiting for the TTL
    assert status == 200, body
    assert body == {
        "name": "shard_size",
        "parameter": f"{PREFIX}shard_size",
        "value": 40,
        "version": 2,
        "cache_ttl_s": 300,
    }
    assert (parameter(stage, "shard_size")["Value"], parameter(stage, "shard_size")["Version"]) == ("40", 2)
    assert stage.call("GET", "/settings")[1]["settings"]["shard_size"] == {"value": 40, "source": "ssm", "version": 2}


def test_putting_an_experiment_default_is_checked_by_its_config_model(stage: Stage) -> None:
    # WHEN an operator sets maze's max_moves and strategy for the stage
    assert stage.call("PUT", "/settings/experiments.maze.max_moves", {"value": 800})[0] == 200
    status, body = stage.call("PUT", "/settings/experiments.maze.strategy", {"value": "wall-follower"})
    # THEN they are parameters under experiments/, and GET /settings lists them with their versions
    assert (status, body["parameter"], body["version"]) == (200, f"{PREFIX}experiments/maze/strategy", 1)
    assert parameter(stage, "experiments/maze/max_moves")["Value"] == "800"
    assert parameter(stage, "experiments/maze/strategy")["Value"] == "wall-follower"
    experiments = stage.call("GET", "/settings")[1]["experiments"]
    assert experiments == {
        "maze": {
            "max_moves": {"value": 800, "source": "ssm", "version": 1},
            "strategy": {"value": "wall-follower", "source": "ssm", "version": 1},
        }
    }
    # AND the next submit merges them under its own config
    status, body = stage.call(
        "POST", "/runs", {"experiment": "maze", "run_id": "admin-1", "config": {"size": 11}, "grid": {"loops": [0]}}
    )
    assert status == 202, body
    stage.run_all()
    assert stage.call("GET", "/runs/admin-1")[1]["state"] == "succeeded"


@pytest.mark.parametrize(
    ("name", "body", "field", "message"),
    [
        ("max_pionts", {"value": 5}, "max_pionts", "`max_pionts` is not a setting; did you mean `max_points`?"),
        (
            "max_points",
            {"value": 0},
            "max_points",
            "setting `max_points` cannot be 0: input should be greater than or equal to 1.",
        ),
        ("max_points", {"volume": 5}, "value", "the body must be a JSON object with exactly one key, `value`."),
        (
            "experiments.maze.max_moves",
            {"value": "many"},
            "experiments.maze.max_moves",
            "`max_moves` of experiment `maze` cannot be 'many': input should be a valid integer, unable to parse "
            "string as an integer.",
        ),
        (
            "experiments.maze.colour",
            {"value": 1},
            "experiments.maze.colour",
            "`colour` is not a config field of experiment `maze`.",
        ),
        (
            "experiments.maez.size",
            {"value": 11},
            "experiment",
            "experiment `maez` is not registered; did you mean `maze`?",
        ),
        ("experiments.maze", {"value": 11}, "name", "`experiments.maze` does not name an experiment default."),
    ],
)
def test_bad_names_and_values_are_400_naming_the_field_and_write_nothing(
    stage: Stage, name: str, body: dict[str, Any], field: str, message: str
) -> None:
    status, answer = stage.call("PUT", f"/settings/{name}", body)
    assert status == 400, answer
    assert (answer["field"], answer["message"]) == (field, message)
    assert answer["hint"]
    assert stage.ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"] == []
