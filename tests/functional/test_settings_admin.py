"""`PUT /settings/{name}` (issue 10): a stage setting or an experiment's stage default, validated,
written to SSM (moto), this instance's cache cleared; `GET /settings` shows it; a bad name or value
is a 400 naming the field and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from sweep_aws.ssm import SsmSettings
from sweep_infra.policies import orchestrator_policy
from sweep_orchestrator import deps
from sweep_orchestrator.deps import OrchestratorDeps
from sweep_orchestrator.runtime import Runtime
from tests.cloud import PREFIX, REGION, Stage


def parameter(stage: Stage, name: str) -> dict[str, Any]:
    found: dict[str, Any] = stage.ssm.get_parameter(Name=PREFIX + name)["Parameter"]
    return found


@pytest.mark.slow
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
        "stored": "40",
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
        (
            "max_points",
            {"volume": 5},
            "value",
            "the body must be a JSON object with the key `value` and optionally `expected_version`.",
        ),
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


@pytest.mark.parametrize(
    ("raw_body", "shown", "kind"),
    [
        ('{"value": true}', "true", "a boolean"),
        ('{"value": "500"}', '"500"', "a string"),
        ('{"value": 5e5}', "500000.0", "a number with a fraction or exponent"),
        ('{"value": [500]}', "[500]", "an array"),
    ],
)
def test_a_value_of_another_json_type_is_refused_not_coerced_issue20(
    stage: Stage, raw_body: str, shown: str, kind: str
) -> None:
    # WHEN an admin sends max_points as a boolean, a string, a float or a list
    status, answer = stage.call("PUT", "/settings/max_points", raw_body=raw_body)
    # THEN 400 naming the setting, the value, the type it must be and an example; SSM holds nothing
    assert status == 400, answer
    assert answer == {
        "code": "INVALID_SETTING",
        "message": f"setting `max_points` must be a JSON integer, not {kind} ({shown}).",
        "field": "max_points",
        "value": json.loads(raw_body)["value"],
        "limit": {"type": "integer", "min": 1, "max": 1_000_000_000},
        "hint": 'send an integer from 1 to 1000000000 without quotes, e.g. `{"value": 1000000}`.',
    }
    assert stage.ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"] == []


def test_an_experiment_default_of_another_json_type_is_refused_issue20(stage: Stage) -> None:
    # WHEN maze's max_moves (an integer) is sent as a string and as a boolean
    for value in ("800", True):
        status, answer = stage.call("PUT", "/settings/experiments.maze.max_moves", {"value": value})
        # THEN 400 naming the key and the type; nothing is written
        assert status == 400, answer
        assert answer["field"] == "experiments.maze.max_moves"
        assert answer["message"].startswith(f"`max_moves` of experiment `maze` cannot be {value!r}: input should be")
    assert stage.ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"] == []


def test_the_answer_is_what_ssm_stores_issue20(stage: Stage) -> None:
    # WHEN a string default is written
    status, body = stage.call("PUT", "/settings/experiments.maze.strategy", {"value": "dfs-recall"})
    # THEN the answer carries the stored text and the value readers will parse from it
    assert status == 200, body
    assert (body["stored"], body["value"], body["version"]) == ("dfs-recall", "dfs-recall", 1)
    assert parameter(stage, "experiments/maze/strategy")["Value"] == body["stored"]


def test_a_percent_encoded_name_is_decoded_then_refused_issue20(stage: Stage) -> None:
    # GIVEN shard_size at 50
    stage.put_setting("shard_size", "50")
    # WHEN a client sends `shard_size#` and `max_points?limit=1` encoded as one path segment
    for name, guess in (("shard_size#", "shard_size"), ("max_points?limit=1", "max_points")):
        status, answer = stage.call("PUT", f"/settings/{quote(name, safe='')}", {"value": 40})
        # THEN the orchestrator refuses the name as given, and shard_size is untouched
        assert status == 400, answer
        assert (answer["field"], answer["message"]) == (name, f"`{name}` is not a setting; did you mean `{guess}`?")
    assert (parameter(stage, "shard_size")["Value"], parameter(stage, "shard_size")["Version"]) == ("50", 1)


@pytest.fixture
def two_orchestrators(stage: Stage) -> Iterator[tuple[Callable[..., tuple[int, Any]], Callable[..., tuple[int, Any]]]]:
    """Two warm orchestrator instances: each has its own settings cache, both read one SSM (moto)."""
    first = deps.current()
    second = OrchestratorDeps(
        Runtime(store=stage.store, dispatcher=stage.dispatcher, settings=SsmSettings(PREFIX, client=stage.ssm)),
        stage.dispatcher,
        "test",
        PREFIX,
        300,
    )

    def through(instance: OrchestratorDeps) -> Callable[..., tuple[int, Any]]:
        def call(*args: Any, **kwargs: Any) -> tuple[int, Any]:
            deps.use(instance)
            try:
                return stage.call(*args, **kwargs)
            finally:
                deps.use(first)

        return call

    yield through(first), through(second)
    deps.use(first)


def test_two_admins_through_two_warm_orchestrators_cannot_both_create_issue20(
    stage: Stage, two_orchestrators: tuple[Callable[..., tuple[int, Any]], Callable[..., tuple[int, Any]]]
) -> None:
    a, b = two_orchestrators
    # GIVEN both instances have read the settings (shard_size: the built-in default) into their caches
    assert a("GET", "/settings")[1]["settings"]["shard_size"]["source"] == "default"
    assert b("GET", "/settings")[1]["settings"]["shard_size"]["source"] == "default"
    # WHEN admin A creates shard_size=40 through A, then admin B creates shard_size=60 through B
    status_a, answer_a = a("PUT", "/settings/shard_size", {"value": 40, "expected_version": 0})
    status_b, answer_b = b("PUT", "/settings/shard_size", {"value": 60, "expected_version": 0})
    # THEN A's create is written; B's is refused by SSM (409), naming what the stage holds now
    assert (status_a, answer_a["version"]) == (200, 1), answer_a
    assert status_b == 409, answer_b
    assert answer_b == {
        "code": "SETTING_CONFLICT",
        "message": "`shard_size` exists already (version 1, holding 40): a create-only write does not replace it.",
        "field": "shard_size",
        "value": 60,
        "limit": {"expected_version": 0},
        "current": {"value": 40, "version": 1},
        "hint": "to replace it, send `expected_version: 1` (the version it holds now) with the value.",
    }
    assert (parameter(stage, "shard_size")["Value"], parameter(stage, "shard_size")["Version"]) == ("40", 1)


def test_an_update_from_a_version_another_admin_moved_is_refused_issue20(
    stage: Stage, two_orchestrators: tuple[Callable[..., tuple[int, Any]], Callable[..., tuple[int, Any]]]
) -> None:
    a, b = two_orchestrators
    # GIVEN shard_size=50 at version 1, read into both caches
    stage.put_setting("shard_size", "50")
    assert a("GET", "/settings")[1]["settings"]["shard_size"]["version"] == 1
    assert b("GET", "/settings")[1]["settings"]["shard_size"]["version"] == 1
    # WHEN A updates it from version 1, then B (whose cache still says version 1) does the same
    assert a("PUT", "/settings/shard_size", {"value": 40, "expected_version": 1})[0] == 200
    status, answer = b("PUT", "/settings/shard_size", {"value": 60, "expected_version": 1})
    # THEN B is refused by the version SSM holds now, not by its cache, and A's value stays
    assert status == 409, answer
    assert answer["message"] == "`shard_size` is at version 2 (holding 40), not at version 1 as the write expected."
    assert answer["current"] == {"value": 40, "version": 2}
    assert (parameter(stage, "shard_size")["Value"], parameter(stage, "shard_size")["Version"]) == ("40", 2)
    # AND an update of a setting that does not exist is refused too
    status, answer = b("PUT", "/settings/max_shards", {"value": 60, "expected_version": 3})
    assert (status, answer["current"]) == (409, {"value": None, "version": 0})
    # AND B, sending the version it was told, writes
    status, answer = b("PUT", "/settings/shard_size", {"value": 60, "expected_version": 2})
    assert (status, answer["version"], answer["stored"]) == (200, 3, "60"), answer


@pytest.mark.parametrize("expected", [-1, True, "1", 1.0])
def test_a_bad_expected_version_is_refused_issue20(stage: Stage, expected: Any) -> None:
    status, answer = stage.call("PUT", "/settings/shard_size", {"value": 40, "expected_version": expected})
    assert status == 400, answer
    assert (answer["field"], answer["value"]) == ("expected_version", expected)
    assert stage.ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"] == []


def test_a_write_landing_between_the_version_check_and_the_put_is_reported_issue20(stage: Stage) -> None:
    # GIVEN shard_size=50 at version 1, and another admin whose write lands right after this one's check
    stage.put_setting("shard_size", "50")
    other = boto3.client("ssm", region_name=REGION)

    def another_admin_writes(**_: Any) -> None:
        other.put_parameter(Name=PREFIX + "shard_size", Value="70", Type="String", Overwrite=True)

    stage.ssm.meta.events.register_first("before-call.ssm.PutParameter", another_admin_writes)
    try:
        # WHEN this admin updates it from version 1
        status, answer = stage.call("PUT", "/settings/shard_size", {"value": 40, "expected_version": 1})
    finally:
        stage.ssm.meta.events.unregister("before-call.ssm.PutParameter", another_admin_writes)
    # THEN SSM has no compare-and-set: the write lands, and the answer says it replaced version 2, not 1
    assert status == 200, answer
    assert (answer["version"], answer["replaced_version"], answer["stored"]) == (3, 2, "40")


def test_an_experiment_default_is_created_once_and_updated_from_its_version_issue20(stage: Stage) -> None:
    # GIVEN maze's max_moves created at version 1
    name = "/settings/experiments.maze.max_moves"
    assert stage.call("PUT", name, {"value": 800, "expected_version": 0})[0] == 200
    # WHEN it is created again, and updated from a version it is not at
    again = stage.call("PUT", name, {"value": 900, "expected_version": 0})
    stale = stage.call("PUT", name, {"value": 900, "expected_version": 2})
    # THEN both are refused naming what it holds; an update from version 1 writes
    assert (again[0], again[1]["current"]) == (409, {"value": 800, "version": 1}), again
    assert (stale[0], stale[1]["current"]) == (409, {"value": 800, "version": 1}), stale
    assert again[1]["field"] == "experiments.maze.max_moves"
    status, answer = stage.call("PUT", name, {"value": 900, "expected_version": 1})
    assert (status, answer["version"], answer["replaced_version"]) == (200, 2, 1), answer


def test_every_ssm_call_of_a_conditional_write_is_one_the_orchestrators_policy_allows_issue20(stage: Stage) -> None:
    # moto does not enforce IAM on SSM: record each call with the parameter or path it names, and
    # match it against the orchestrator role's policy document
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter" + PREFIX.rstrip("/")
    policy = orchestrator_policy(
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:x",
        bucket_arn="arn:aws:s3:::bucket",
        parameter_path_arn=arn,
        worker_arn="arn:aws:lambda:us-east-1:123456789012:function:w",
        orchestrator_arn="arn:aws:lambda:us-east-1:123456789012:function:o",
        reconciler_arn="arn:aws:lambda:us-east-1:123456789012:function:r",
        search_arn="arn:aws:lambda:us-east-1:123456789012:function:s",
    )
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        for name in params.get("Names") or [params.get("Name") or params.get("Path")]:
            calls.append((f"ssm:{model.name}", "arn:aws:ssm:us-east-1:123456789012:parameter" + name))

    stage.ssm.meta.events.register("provide-client-params.ssm.*", record)
    try:
        stage.put_setting("shard_size", "50")
        calls.clear()
        for name, body in (
            ("shard_size", {"value": 40, "expected_version": 0}),  # refused: exists
            ("shard_size", {"value": 40, "expected_version": 1}),
            ("experiments.maze.max_moves", {"value": 8, "expected_version": 0}),
            ("experiments.maze.max_moves", {"value": 9, "expected_version": 0}),  # refused: exists
            ("experiments.maze.max_moves", {"value": 9, "expected_version": 1}),
        ):
            stage.call("PUT", f"/settings/{name}", body)
    finally:
        stage.ssm.meta.events.unregister("provide-client-params.ssm.*", record)
    allowed = [
        (action, resource)
        for statement in policy["Statement"]
        for action in statement["Action"]
        for resource in statement["Resource"]
    ]
    denied = [call for call in calls if not any(a == call[0] and fnmatch(call[1], r) for a, r in allowed)]
    assert denied == []
    assert {action for action, _ in calls} >= {"ssm:GetParameters", "ssm:GetParametersByPath", "ssm:PutParameter"}
