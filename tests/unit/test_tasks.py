"""Shard tasks: what the worker receives, built without re-encoding the spec per shard."""

from __future__ import annotations

import json

import pytest

from sweep_contracts.errors import InvalidTaskError, MissingConfigError
from sweep_contracts.planning import ShardPlan
from sweep_contracts.request import MISSING_CONFIG_HINT, parse_request
from sweep_contracts.tasks import ShardTask, TaskFactory, TaskIdentity, TaskSettings, identify_task, parse_task


def factory() -> TaskFactory:
    request = parse_request(
        {"experiment": "maze", "config": {"size": 11}, "grid": {"strategy": ["a", "b"]}, "repeats": 5}
    )
    return TaskFactory(
        run_id="run-1",
        experiment="maze",
        config=request.config,
        spec=request.spec(),
        settings=TaskSettings(shard_size=3),
        plan=ShardPlan(points_total=10, shard_size=3, shard_count=4),
    )


def test_events_carry_config_spec_and_range_never_points() -> None:
    event = factory().event(3, attempt=2)
    assert event == {
        "kind": "sweep.shard",
        "run_id": "run-1",
        "shard_id": 3,
        "shard_count": 4,
        "start": 9,
        "stop": 10,
        "attempt": 2,
        "experiment": "maze",
        "config": {"size": 11},
        "spec": {"grid": {"strategy": ["a", "b"]}, "repeats": 5},
        "settings": {"shard_size": 3},
    }
    task = parse_task(event)
    assert (task.points_total, task.point_space().size) == (1, 10)


def test_event_json_is_valid_json_for_every_shard() -> None:
    f = factory()
    assert [json.loads(text)["stop"] for text in f.events()] == [3, 6, 9, 10]
    with pytest.raises(IndexError):
        f.event_json(4)


@pytest.mark.parametrize("config", [None, {}])
def test_a_task_without_config_is_refused(config: object) -> None:
    event = factory().event(0)
    if config is None:
        del event["config"]
    else:
        event["config"] = config
    with pytest.raises(MissingConfigError) as info:
        parse_task(event)
    assert info.value.to_dict() == {
        "code": "MISSING_CONFIG",
        "message": "shard task 'run-1'/0 carries no config; the worker refuses it.",
        "field": "config",
        "hint": MISSING_CONFIG_HINT,
        **({"value": {}} if config == {} else {}),
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stop": 0}, "stop"),
        ({"start": 5, "stop": 3}, "request"),
        ({"shard_id": 9}, "request"),
        ({"shard_id": 4}, "request"),  # shard_count is 4: ids are 0..3
        ({"start": 3, "stop": 3}, "request"),  # an empty range
        ({"shard_id": -1}, "shard_id"),
        ({"run_id": "BAD"}, "run_id"),
        ({"spec": 5}, "spec"),
    ],
)
def test_malformed_tasks_are_refused(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidTaskError) as info:
        parse_task({**factory().event(0), **change})
    assert info.value.field == field


def test_a_range_past_the_sweep_is_refused() -> None:
    task = ShardTask.model_validate({**factory().event(0), "start": 5, "stop": 11})
    with pytest.raises(InvalidTaskError, match="asks for points up to 10, but the sweep has 10"):
        task.point_space()


def test_the_last_shard_and_a_one_point_range_are_accepted() -> None:
    task = parse_task({**factory().event(3), "start": 9, "stop": 10})
    assert (task.shard_id, task.shard_count, task.points_total) == (3, 4, 1)


def test_task_model_errors_name_the_rule() -> None:
    with pytest.raises(InvalidTaskError) as same:
        parse_task({**factory().event(0), "shard_id": 4})
    assert same.value.message == "the shard task is malformed: `request`: shard_id 4 is not below shard_count 4."
    with pytest.raises(InvalidTaskError) as empty:
        parse_task({**factory().event(0), "start": 3, "stop": 3})
    assert empty.value.message == "the shard task is malformed: `request`: the index range 3..3 is empty."


@pytest.mark.parametrize(
    ("change", "identity"),
    [
        ({}, TaskIdentity("run-1", 1, 3, 1)),
        ({"attempt": 4}, TaskIdentity("run-1", 1, 3, 4)),
        ({"attempt": 0}, TaskIdentity("run-1", 1, 3, 1)),
        ({"attempt": "2"}, TaskIdentity("run-1", 1, 3, 1)),
        ({"start": 5, "stop": 5}, TaskIdentity("run-1", 1, 0, 1)),
        ({"start": "0"}, TaskIdentity("run-1", 1, 0, 1)),
        ({"config": None, "spec": None}, TaskIdentity("run-1", 1, 3, 1)),
        ({"shard_id": 0}, TaskIdentity("run-1", 0, 3, 1)),
        ({"run_id": "BAD"}, None),
        ({"run_id": None}, None),
        ({"shard_id": -1}, None),
        ({"shard_id": True}, None),
        ({"shard_id": "1"}, None),
    ],
)
def test_identify_task_names_the_shard_of_a_malformed_task(change: dict[str, object], identity: object) -> None:
    # GIVEN shard 1 (points 3..5) with one field changed; WHEN identified; THEN its outcome's key and size
    assert identify_task({**factory().event(1), **change}) == identity


@pytest.mark.parametrize("event", [None, [], "run-1", 5])
def test_identify_task_needs_a_mapping(event: object) -> None:
    assert identify_task(event) is None


def test_task_settings_leave_out_an_unknown_name_and_a_value_out_of_range() -> None:
    # GIVEN the settings of a task from another version: a name this one does not know, a value
    # out of its range, and one value it takes
    carried = {"no_such_setting": 5, "shard_time_budget_s": -1, "time_budget_margin_ms": 7}
    # WHEN a worker reads them
    settings = TaskSettings.model_validate(carried)
    # THEN the task is not refused: the two are left out (their defaults apply), the third is kept
    assert settings.model_dump() == {"time_budget_margin_ms": 7}
    assert settings.shard_time_budget_s == TaskSettings().shard_time_budget_s
