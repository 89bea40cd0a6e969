"""`sweep run` plans a run once (issue 24): the local engine validates the request, times its points
when it sizes shards, then plans with the settings it runs with — not once to probe and again to submit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sweep_cli.local.backend import LocalBackend
from sweep_contracts import planning
from sweep_contracts.experiments import Experiment
from sweep_contracts.planning import ShardPlan
from sweep_contracts.settings import SystemSettings
from sweep_orchestrator import submit

PAYLOAD = {"experiment": "synthetic", "run_id": "once", "config": {"y": 0.5}, "grid": {"x": [0.1, 0.2]}, "repeats": 50}


def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"plan_shards": 0, "check_request": 0}
    plan_shards, check_request = planning.plan_shards, Experiment.check_request

    def counting_plan(*args: Any, **kwargs: Any) -> ShardPlan:
        calls["plan_shards"] += 1
        return plan_shards(*args, **kwargs)

    def counting_check(self: Experiment[Any], *args: Any, **kwargs: Any) -> None:
        calls["check_request"] += 1
        check_request(self, *args, **kwargs)

    monkeypatch.setattr(submit, "plan_shards", counting_plan)
    monkeypatch.setattr(Experiment, "check_request", counting_check)
    return calls


@pytest.mark.parametrize("settings", [None, {"shard_size": 10}], ids=["measured", "set"])
def test_a_local_run_is_validated_and_planned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, int] | None
) -> None:
    # GIVEN the planner and the request check, counted
    calls = counted(monkeypatch)
    filed = SystemSettings.resolve(settings, source="file") if settings else None
    # WHEN a sweep runs locally, its shard size measured on this machine or set in a settings file
    with LocalBackend(tmp_path / "out", workers=1, settings=filed) as backend:
        result = backend.submit(PAYLOAD)
        backend.follow(result.run_id, quiet=True)
    # THEN the request was checked once and planned once
    assert calls == {"plan_shards": 1, "check_request": 1}
    assert result.points == 100
