"""Helpers for tests: a fixed clock, and running a whole sweep in-process."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sweep_cli.check import CheckReport, check_run
from sweep_contracts import layout
from sweep_contracts.experiments import Registry
from sweep_contracts.outcomes import Outcome
from sweep_contracts.planning import ShardPlan
from sweep_contracts.points import PointSpace
from sweep_contracts.request import parse_request
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import ObjectStore
from sweep_contracts.tasks import TaskFactory, TaskSettings
from sweep_orchestrator.dispatch import RecordingDispatcher
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.status import RunStatus, read_outcomes, run_status
from sweep_orchestrator.submit import SubmitResult, submit_run
from sweep_worker.runner import WorkerDeps, process_event

FIXED_NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


def runtime_for(store: ObjectStore, settings: SystemSettings | None = None) -> tuple[Runtime, RecordingDispatcher]:
    dispatcher = RecordingDispatcher()
    effective = settings or SystemSettings.resolve({}, source="default")
    return Runtime(store=store, dispatcher=dispatcher, settings=lambda: effective, clock=lambda: FIXED_NOW), dispatcher


def run_sweep(
    payload: dict[str, Any], store: ObjectStore, settings: SystemSettings | None = None
) -> tuple[SubmitResult, list[dict[str, Any]]]:
    """Submit through the orchestrator core, then feed every captured task to the worker."""
    rt, dispatcher = runtime_for(store, settings)
    result, _ = submit_run(payload, rt)
    deps = WorkerDeps(store=store, registry=Registry.default())
    outcomes = [process_event(event, deps) for event in dispatcher.events]
    return result, outcomes


def tasks_for(
    payload: dict[str, Any], run_id: str, shard_size: int | None = None, settings: dict[str, int] | None = None
) -> TaskFactory:
    """Shard tasks for a sweep payload, as the orchestrator would build them (one shard by default)."""
    request = parse_request(payload)
    total = PointSpace(request, request.config).size
    size = shard_size or total
    return TaskFactory(
        run_id=run_id,
        experiment=request.experiment,
        config=request.config,
        spec=request.spec(),
        settings=TaskSettings.model_validate(settings or {}),
        plan=ShardPlan(points_total=total, shard_size=size, shard_count=-(-total // size)),
    )


def vouched_points_key(store: ObjectStore, run_id: str, shard_id: int) -> str | None:
    """The points object the shard's standing outcome names (a success wins over a failure)."""
    for status in ("success", "failure"):
        data = store.get(layout.outcome_key(run_id, status, shard_id))
        if data is not None:
            return Outcome.from_parquet(data, run_id).points_key
    return None


def assert_invariants(store: ObjectStore, run_id: str) -> CheckReport:
    """The invariant checker's verdict on a run, asserted clean (the violations are the message),
    and the run's status, added up from listings, asserted equal to its outcomes read one by one."""
    report = check_run(store, load_manifest(store, run_id))
    assert report.ok, "\n".join(report.lines())
    status = run_status(store, run_id)
    assert status_totals(status) == outcome_totals(store, run_id), "status from the listings disagrees"
    return report


def status_totals(status: RunStatus) -> tuple[int, int, int, int]:
    """(shards succeeded, shards failed, points ok, points error) as a status tells them."""
    return status.shards_success, status.shards_failure, status.points_ok, status.points_error


def outcome_totals(store: ObjectStore, run_id: str) -> tuple[int, int, int, int]:
    """(shards succeeded, shards failed, points ok, points error) from every outcome, read one by one."""
    every = read_outcomes(store, run_id).values()
    return (
        sum(o.status == "success" for o in every),
        sum(o.status == "failure" for o in every),
        sum(o.points_ok for o in every),
        sum(o.points_failed for o in every),
    )


def install_plugin(site: Path, module: str, source: str, experiment: str, version: str = "1.0") -> Path:
    """An experiment plugin `module` (its source) installed into `site` as a distribution would be:
    the module, and a dist-info whose entry point registers `experiment` in `sweep.experiments`."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[sweep.experiments]\n{experiment} = {module}:EXPERIMENT\n")
    return site
