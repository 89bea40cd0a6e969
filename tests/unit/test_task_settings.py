"""`TaskSettings`: a run's settings travel to workers and dispatchers typed, resolved once from the
manifest, and the wire stays the JSON object of setting values tasks carried before (issue 24, item 3)."""

from __future__ import annotations

import json
from typing import Any

from sweep_contracts.manifest import RunManifest
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_contracts.tasks import TaskSettings, parse_task
from sweep_orchestrator.dispatch_task import DispatchTask
from sweep_orchestrator.lambda_dispatch import DispatchPolicy
from sweep_orchestrator.submit import prepare
from tests.helpers import runtime_for

SWEEP = {"experiment": "synthetic", "run_id": "typed-1", "config": {"y": 0.0}, "grid": {"x": [1, 2, 3, 4, 5]}}
PLANNED = {"shard_size": 2, "shard_time_budget_s": 120, "time_budget_margin_ms": 500, "dispatch_concurrency": 7}


def manifest() -> RunManifest:
    settings = SystemSettings.resolve(PLANNED, source="file")
    return prepare(SWEEP, runtime_for(MemoryStore(), settings)[0])


def old_event(m: RunManifest) -> dict[str, Any]:
    """A shard task as the orchestrator built it before `TaskSettings`: `settings` is the dict of
    every setting's value (`RunManifest.settings_values`)."""
    event = m.task_factory().event(0)
    return {**event, "settings": m.settings_values()}


def test_tasks_carry_the_runs_settings_typed() -> None:
    # GIVEN a run planned with some settings set
    m = manifest()
    # WHEN its shard task is parsed, and its dispatch policy made
    task = parse_task(m.task_factory().event(0))
    policy = DispatchPolicy.from_settings(m.task_factory().settings)
    # THEN the worker and the dispatcher read the planned values as typed fields, resolved once
    assert isinstance(task.settings, TaskSettings)
    assert (task.settings.shard_time_budget_s, task.settings.time_budget_margin_ms) == (120, 500)
    assert (policy.concurrency, policy.max_attempts) == (7, SystemSettings().dispatch_max_attempts)
    assert task.settings == m.task_settings()


def test_the_wire_is_the_dict_tasks_carried_before() -> None:
    # GIVEN a run's task as it is sent now, and as it was sent before TaskSettings
    m = manifest()
    now, before = m.task_factory().event_json(0), old_event(m)
    # WHEN both are read as JSON
    # THEN they are the same object: a worker from before reads a new task, and the other way round
    assert json.loads(now) == before


def test_a_task_in_flight_from_before_still_parses() -> None:
    # GIVEN tasks sent before TaskSettings: the full dict, one with a setting this version does not
    # know and a value out of range (which the worker's resolve used to drop), and one with no settings
    m = manifest()
    full = old_event(m)
    odd = {**full, "settings": {"shard_time_budget_s": 120, "retired_setting": 3, "time_budget_margin_ms": -1}}
    bare = {k: v for k, v in full.items() if k != "settings"}
    # WHEN the worker parses them
    tasks = [parse_task(event) for event in (full, odd, bare)]
    # THEN each parses; unknown names and bad values fall back to the default, as before
    default = SystemSettings()
    assert [(t.settings.shard_time_budget_s, t.settings.time_budget_margin_ms) for t in tasks] == [
        (120, 500),
        (120, default.time_budget_margin_ms),
        (default.shard_time_budget_s, default.time_budget_margin_ms),
    ]
    assert tasks[0].settings == m.task_settings()


def test_a_dispatch_task_in_flight_from_before_matches_its_manifest() -> None:
    # GIVEN a fan-out message as a dispatcher from before sent it (settings: the full dict)
    m = manifest()
    sent = DispatchTask.for_shards(m.task_factory(), [(0, 1), (1, 1)]).model_dump(mode="json")
    # WHEN it is parsed next to the manifest (the trust check compares the two)
    parsed = DispatchTask.model_validate({**sent, "settings": m.settings_values()})
    # THEN its settings are the run's, and what it hands on is the same wire as the manifest's tasks
    assert parsed.settings == m.task_settings()
    assert parsed.factory().event_json(1) == m.task_factory().event_json(1)
    assert sent["settings"] == m.settings_values()
