"""Trust boundaries: internal messages (`sweep.dispatch` tasks, destination records) do not pass
the API's IAM auth, so the orchestrator checks each against the run it names before acting."""

from __future__ import annotations

from typing import Any

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_orchestrator import handler
from sweep_orchestrator.dispatch_task import DispatchTask
from tests.cloud import ORCHESTRATOR, WORKER, LambdaContext, Stage
from tests.faults import destination_record

SWEEP: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "trust-1",
    "config": {"y": 0.5},
    "grid": {"x": [0.0, 0.1, 0.2, 0.3]},
    "shard_size": 1,
}


def real_dispatch(stage: Stage) -> dict[str, Any]:
    stage.call("POST", "/runs", SWEEP)
    stage.invokes.take()
    manifest = RunManifest.from_json(stage.store.get(layout.manifest_key("trust-1")) or b"")
    return DispatchTask.for_shards(manifest.task_factory(), [(k, 1) for k in range(4)]).model_dump(mode="json")


def test_a_forged_dispatch_for_a_run_without_manifest_dispatches_nothing(stage: Stage) -> None:
    # GIVEN a well-formed dispatch task for 40 shards of a run that was never submitted
    task = real_dispatch(stage)
    forged = {**task, "run_id": "never-submitted", "plan": {**task["plan"], "shard_count": 40, "points_total": 40}}
    forged["shards"] = [[0, 40, 1]]
    # WHEN it reaches the orchestrator THEN it is refused and no worker is invoked
    answer = handler.handler(forged, LambdaContext())
    assert answer == {"refused": True, "reason": "run `never-submitted` has no valid manifest"}
    assert stage.invokes.take() == []
    assert stage.object_keys("outcomes/") == []


def test_a_dispatch_with_another_config_or_shards_outside_the_plan_is_refused(stage: Stage) -> None:
    task = real_dispatch(stage)
    other_config = handler.handler({**task, "config": {"y": 0.9}}, LambdaContext())
    outside = handler.handler({**task, "shards": [[2, 9, 1]]}, LambdaContext())
    assert other_config["reason"] == "the dispatch task's experiment or config is not run `trust-1`'s"
    assert outside["reason"] == "shards 2..8 (attempt 1) are not in run `trust-1`'s plan"
    assert stage.invokes.take() == []


def test_a_genuine_dispatch_task_still_dispatches(stage: Stage) -> None:
    assert handler.handler(real_dispatch(stage), LambdaContext())["dispatched"] == 4
    assert len(stage.invokes.take(WORKER)) == 4


def test_destination_records_are_accepted_only_in_their_aws_shape_for_real_tasks(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[0]
    genuine = destination_record(task, RuntimeError("out of memory"))
    other_function = {
        **genuine,
        "requestContext": {**genuine["requestContext"], "functionArn": "arn:aws:lambda:us-east-1:1:function:x"},
    }
    no_condition = {**genuine, "requestContext": {**genuine["requestContext"], "condition": "Whatever"}}
    forged_task = {**genuine, "requestPayload": {**task, "config": {"y": 0.9}}}
    no_run = {**genuine, "requestPayload": {**task, "run_id": "never-submitted"}}
    for record in (other_function, no_condition, forged_task, no_run):
        assert handler.handler(record, LambdaContext())["refused"] is True
    assert stage.object_keys("outcomes/") == []
    assert handler.handler(genuine, LambdaContext())["reconciled"] is True


def test_the_reconciler_entry_refuses_a_genuine_dispatch_task_and_reconciles_records(stage: Stage) -> None:
    # GIVEN a dispatch task that the orchestrator itself would act on (the worker may invoke only
    # the reconciler, so this is all experiment code in a worker could send)
    task = real_dispatch(stage)
    # WHEN it reaches the reconciler's entry THEN it is refused and nothing is dispatched
    answer = handler.reconcile_handler(task, LambdaContext())
    assert answer == {
        "refused": True,
        "reason": "the reconciler takes Lambda's destination records only (the worker's and the orchestrator's)",
    }
    assert stage.invokes.take() == []
    # AND a genuine destination record is still reconciled there
    stage.call("POST", "/runs", {**SWEEP, "run_id": "trust-2"})
    record = destination_record(stage.invokes.take(WORKER)[0], RuntimeError("out of memory"))
    assert handler.reconcile_handler(record, LambdaContext())["reconciled"] is True


def dispatcher_failed(task: dict[str, Any], function: str = ORCHESTRATOR) -> dict[str, Any]:
    """Lambda's on-failure record for a child dispatcher whose every attempt timed out."""
    record = destination_record(task, RuntimeError("Task timed out after 60.00 seconds"))
    record["requestContext"]["functionArn"] = f"arn:aws:lambda:us-east-1:123456789012:function:{function}:$LATEST"
    return record


def test_a_failed_child_dispatcher_records_dispatch_failed_for_its_shards_at_once(stage: Stage) -> None:
    # GIVEN a dispatch task for shards 0..3 whose dispatcher failed for good (issue 22, item 8)
    record = dispatcher_failed(real_dispatch(stage))
    # WHEN Lambda sends its record to the on-failure destination, the reconciler
    answer = handler.reconcile_handler(record, LambdaContext())
    # THEN each of its shards has a DISPATCH_FAILED outcome now, not once the run is overdue
    assert answer == {"reconciled": True, "run_id": "trust-1", "shards": 4, "recorded": 4}
    assert sorted(stage.object_keys("outcomes/")) == [
        layout.outcome_key("trust-1", "failure", shard) for shard in range(4)
    ]
    assert stage.call("GET", "/runs/trust-1")[1]["error_codes"] == {"DISPATCH_FAILED": 4}
    # AND `sweep retry` dispatches them again
    assert stage.call("POST", "/runs/trust-1/retry")[1]["dispatched"] == 4


def test_a_dispatch_record_from_another_function_or_with_another_config_is_refused(stage: Stage) -> None:
    task = real_dispatch(stage)
    from_worker = dispatcher_failed(task, WORKER)
    forged = dispatcher_failed({**task, "config": {"y": 0.9}})
    for record in (from_worker, forged):
        assert handler.reconcile_handler(record, LambdaContext())["refused"] is True
    assert stage.object_keys("outcomes/") == []
