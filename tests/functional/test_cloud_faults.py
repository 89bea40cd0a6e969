"""Faults, injected with botocore `before-send` hooks: every shard still ends with one outcome."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from pydantic import BaseModel

from sweep_aws.ssm import GET_PARAMETERS_MAX_NAMES, SsmSecrets
from sweep_contracts import layout
from sweep_contracts.errors import StoreError
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import Outcome
from sweep_contracts.settings import SystemSettings
from sweep_orchestrator import handler
from sweep_orchestrator.lambda_dispatch import LEAD_SHARDS
from sweep_worker.runner import WorkerDeps, process_event
from tests.cloud import (
    ORCHESTRATOR,
    PREFIX,
    WORKER,
    LambdaContext,
    Stage,
    json_error,
    lambda_error,
    s3_error,
    s3_key,
)
from tests.helpers import vouched_points_key

SWEEP: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "faults-1",
    "config": {"y": 0.5},
    "grid": {"x": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
    "shard_size": 2,
}


def outcome(stage: Stage, run_id: str, shard: int) -> Outcome:
    keys = [k for k in stage.object_keys(layout.outcomes_prefix(run_id)) if k.endswith(layout.shard_name(shard))]
    assert len(keys) == 1, keys
    return Outcome.from_parquet(stage.store.get(keys[0]) or b"", run_id)


# --- SSM --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (json_error(400, "ThrottlingException", "Rate exceeded"), "ThrottlingException"),
        (json_error(500, "InternalServerError", "SSM is having a day"), "InternalServerError"),
    ],
)
def test_unreadable_ssm_falls_back_to_defaults_and_the_manifest_says_so(
    stage: Stage, fault: AWSResponse, reason: str
) -> None:
    # GIVEN SSM answers every call with an error (after botocore's own retries)
    stage.put_setting("max_points", "5000")
    calls = Counter[str]()

    def broken(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        calls["ssm"] += 1
        return fault

    for call in ("GetParameters", "GetParametersByPath"):  # the settings by name, the defaults by path
        stage.ssm.meta.events.register(f"before-send.ssm.{call}", broken)
    # WHEN a sweep is submitted
    status, body = stage.call("POST", "/runs", SWEEP)
    # THEN it still runs, on the built-in defaults, and the manifest records why
    assert (status, body["shards"]) == (202, 3)
    manifest = RunManifest.from_json(stage.store.get(layout.manifest_key("faults-1")) or b"")
    record = manifest.settings["max_points"]
    assert (record["value"], record["source"]) == (1_000_000, "default")
    assert record["note"].startswith("ssm unavailable, built-in default used:")
    assert reason in record["note"]
    assert calls["ssm"] == 3  # botocore's standard mode: 3 attempts, then the fallback
    # AND a second request within the retry window does not hammer SSM again
    stage.call("GET", "/settings")
    assert calls["ssm"] == 3


def test_settings_are_cached_for_the_ttl(stage: Stage) -> None:
    stage.put_setting("shard_size", "7")
    reads = Counter[str]()
    for call in ("GetParameters", "GetParametersByPath"):
        stage.ssm.meta.events.register(f"before-send.ssm.{call}", lambda **_: reads.update(["read"]))
    for _ in range(3):
        assert stage.call("GET", "/settings")[1]["settings"]["shard_size"]["value"] == 7
    # one refresh: the settings by name (ten names a call), then the experiments' defaults path and
    # the secret bindings' path
    assert reads["read"] == -(-len(SystemSettings.names()) // GET_PARAMETERS_MAX_NAMES) + 2
    # an operator's change shows after the cache expires (here: cleared), never within a request
    stage.ssm.put_parameter(Name=PREFIX + "shard_size", Value="9", Type="String", Overwrite=True)
    assert stage.call("GET", "/settings")[1]["settings"]["shard_size"]["value"] == 7
    stage.settings.clear()
    assert stage.call("GET", "/settings")[1]["settings"]["shard_size"] == {"value": 9, "source": "ssm", "version": 2}


def test_a_wrong_value_in_ssm_is_ignored_with_a_note(stage: Stage) -> None:
    stage.put_setting("max_shards", "lots")
    record = stage.call("GET", "/settings")[1]["settings"]["max_shards"]
    assert (record["value"], record["source"]) == (10_000, "default")
    assert record["note"].startswith("ssm value 'lots' ignored")


# --- S3 ---------------------------------------------------------------------------------------


class FailingPuts:
    """Answers PutObject with a 500 `times` times (or forever) for keys under `prefix`."""

    def __init__(self, prefix: str, times: int | None) -> None:
        self.prefix, self.left, self.seen = prefix, times, Counter[str]()

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        key = s3_key(request)
        if not key.startswith(self.prefix):
            return None
        self.seen[key] += 1
        if self.left is None or self.left > 0:
            self.left = None if self.left is None else self.left - 1
            return s3_error(500, "InternalError")
        return None


def test_s3_500s_on_write_are_retried(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    flaky = FailingPuts("points/", times=2)
    stage.worker.store.client.meta.events.register("before-send.s3.PutObject", flaky)  # type: ignore[attr-defined]
    results = stage.run_all()
    assert [r["status"] for r in results] == ["success"] * 3
    assert sorted(flaky.seen.values()) == [1, 1, 3]  # one key took 3 attempts
    assert stage.call("GET", "/runs/faults-1")[1]["state"] == "succeeded"


def test_persistent_s3_500s_on_points_give_a_store_failure_outcome(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    stage.worker.store.client.meta.events.register(  # type: ignore[attr-defined]
        "before-send.s3.PutObject", FailingPuts("points/", times=None)
    )
    results = stage.run_all()
    assert {r["error_code"] for r in results} == {"STORE_WRITE_FAILED"}
    failed = outcome(stage, "faults-1", 0)
    assert (failed.status, failed.points_ok, failed.points_key) == ("failure", 0, None)
    assert "writing the points failed" in (failed.error_message or "")
    assert "InternalError" in (failed.error_message or "")


def test_when_no_write_succeeds_the_worker_raises_and_the_destination_record_is_reconciled(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[0]
    everything = FailingPuts("", times=None)
    stage.worker.store.client.meta.events.register("before-send.s3.PutObject", everything)  # type: ignore[attr-defined]
    # the worker cannot even record its failure: it raises, so Lambda retries and then calls the destination
    with pytest.raises(StoreError):
        process_event(task, stage.worker)
    stage.worker.store.client.meta.events.unregister("before-send.s3.PutObject", everything)  # type: ignore[attr-defined]
    record = destination_record(task, "StoreError", "cannot write s3://…: InternalError")
    assert handler.handler(record, LambdaContext()) == {
        "reconciled": True,
        "run_id": "faults-1",
        "shard_id": task["shard_id"],
        "error_code": "WORKER_CRASHED",
    }
    failed = outcome(stage, "faults-1", task["shard_id"])
    assert failed.error_message == (
        "the worker invocation failed (RetriesExhausted, 3 attempts): StoreError: cannot write s3://…: InternalError"
    )


def destination_record(task: dict[str, Any], error_type: str, message: str) -> dict[str, Any]:
    return {
        "version": "1.0",
        "timestamp": "2026-11-21T12:00:00.000Z",
        "requestContext": {
            "requestId": "c0ffee",
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{WORKER}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": task,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": message, "errorType": error_type},
    }


def test_a_timed_out_worker_is_recorded_as_worker_timeout(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[1]
    message = "2026-11-21T12:15:00Z c0ffee Task timed out after 900.01 seconds"
    assert handler.handler(destination_record(task, "Sandbox.Timedout", message), LambdaContext())["error_code"] == (
        "WORKER_TIMEOUT"
    )
    assert outcome(stage, "faults-1", task["shard_id"]).error_code == "WORKER_TIMEOUT"


def test_a_queued_invoke_that_expired_is_recorded_as_event_expired_not_a_crash(stage: Stage) -> None:
    # GIVEN a shard whose Event invoke waited in Lambda's queue past the worker's maximum event age
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[2]
    record = destination_record(task, "unused", "unused")
    record["requestContext"].update(condition="EventAgeExceeded", approximateInvokeCount=0)
    del record["responseContext"], record["responsePayload"]  # it never ran
    # WHEN the on-failure destination hands the record to the orchestrator
    result = handler.handler(record, LambdaContext())
    # THEN the shard fails EVENT_EXPIRED, with a message that names the cause and the fixes
    assert result == {
        "reconciled": True,
        "run_id": "faults-1",
        "shard_id": task["shard_id"],
        "error_code": "EVENT_EXPIRED",
    }
    failed = outcome(stage, "faults-1", task["shard_id"])
    assert (failed.error_code, failed.error_message) == (
        "EVENT_EXPIRED",
        "the shard's invoke waited in Lambda's queue past the worker's maximum event age and was dropped "
        "(EventAgeExceeded, 0 attempts): the worker's concurrency was full. Retry it with `sweep retry`; for "
        "large runs raise the worker's concurrency or `maxEventAgeS`, or make shards shorter",
    )


def test_an_attempt_that_failed_then_expired_in_the_queue_keeps_its_error(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[0]
    record = destination_record(task, "Runtime.ExitError", "exit status 137")
    record["requestContext"]["condition"] = "EventAgeExceeded"
    assert handler.handler(record, LambdaContext())["error_code"] == "EVENT_EXPIRED"
    assert (outcome(stage, "faults-1", task["shard_id"]).error_message or "").endswith(
        "(last attempt: Runtime.ExitError: exit status 137)"
    )


def test_a_late_destination_record_never_overrides_a_success(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[0]
    stage.deliver(task)
    result = handler.handler(destination_record(task, "Runtime.ExitError", "exit status 137"), LambdaContext())
    assert result["reconciled"] is False
    assert outcome(stage, "faults-1", task["shard_id"]).status == "success"


# --- Lambda dispatch --------------------------------------------------------------------------


def test_throttled_invokes_back_off_and_no_shard_is_lost(stage: Stage) -> None:
    # GIVEN Lambda throttles each shard's first two invokes
    tries = Counter[int]()
    lock = threading.Lock()

    def throttle(function: str, payload: dict[str, Any]) -> AWSResponse | None:
        with lock:
            tries[payload["shard_id"]] += 1
            if tries[payload["shard_id"]] <= 2:
                return lambda_error(429, "TooManyRequestsException", "Rate Exceeded.")
        return None

    stage.invokes.fault = throttle
    status, body = stage.call("POST", "/runs", SWEEP)
    # THEN every shard was dispatched on its third attempt, after growing (jittered) pauses
    assert (status, body["dispatched"], body["dispatch_failed"]) == (202, 3, 0)
    assert dict(tries) == {0: 3, 1: 3, 2: 3}
    # as botocore's standard mode waits on throttles: base 1 s x 2^throttles, jitter pinned to 1.0
    assert sorted(set(stage.sleeps)) == [2.0, 4.0]
    assert [r["status"] for r in stage.run_all()] == ["success"] * 3


def test_a_shard_that_cannot_be_dispatched_gets_dispatch_failed_and_retry_recovers_it(stage: Stage) -> None:
    stage.put_setting("dispatch_max_attempts", "3")
    stage.invokes.fault = lambda function, payload: (
        lambda_error(429, "TooManyRequestsException", "Rate Exceeded.") if payload["shard_id"] == 1 else None
    )
    body = stage.call("POST", "/runs", SWEEP)[1]
    assert (body["dispatched"], body["dispatch_failed"]) == (2, 1)
    failed = outcome(stage, "faults-1", 1)
    assert (failed.error_code, failed.error_message) == (
        "DISPATCH_FAILED",
        # waits of 2, 4 and 8 s; the next (16 s) would pass the 20 s budget of POST /runs
        "TooManyRequestsException: Rate Exceeded. (throttled 4 times; the dispatch budget of 20 s ran out)",
    )
    stage.run_all()
    assert stage.call("GET", "/runs/faults-1")[1]["state"] == "partial"
    stage.invokes.fault = None
    assert stage.call("POST", "/runs/faults-1/retry")[1]["dispatched"] == 1
    stage.run_all()
    assert stage.call("GET", "/runs/faults-1")[1]["state"] == "succeeded"
    assert outcome(stage, "faults-1", 1).attempt == 2


def test_errors_that_retrying_cannot_fix_fail_at_once(stage: Stage) -> None:
    stage.invokes.fault = lambda f, p: lambda_error(404, "ResourceNotFoundException", "Function not found: w")
    body = stage.call("POST", "/runs", SWEEP)[1]
    assert body["dispatch_failed"] == 3
    assert stage.invokes.attempts[WORKER] == 3
    assert stage.sleeps == []


def test_a_permanent_5xx_is_not_retried(stage: Stage) -> None:
    # GIVEN the worker's KMS key is disabled: Invoke answers 502 every time (botocore would retry it)
    stage.invokes.fault = lambda f, p: lambda_error(502, "KMSDisabledException", "key disabled")
    body = stage.call("POST", "/runs", SWEEP)[1]
    # THEN each shard fails on its first attempt, without a pause
    assert body["dispatch_failed"] == 3
    assert stage.invokes.attempts[WORKER] == 3
    assert stage.sleeps == []
    assert outcome(stage, "faults-1", 0).error_message == "KMSDisabledException: key disabled"


def test_a_function_still_updating_is_tried_again(stage: Stage) -> None:
    # GIVEN the worker is being updated (409 ResourceConflictException, which botocore does not retry)
    tries = Counter[int]()
    lock = threading.Lock()

    def updating(function: str, payload: dict[str, Any]) -> AWSResponse | None:
        with lock:
            tries[payload["shard_id"]] += 1
            first = tries[payload["shard_id"]] == 1
        return lambda_error(409, "ResourceConflictException", "The operation cannot be performed") if first else None

    stage.invokes.fault = updating
    body = stage.call("POST", "/runs", SWEEP)[1]
    # THEN every shard is dispatched on its second attempt
    assert (body["dispatched"], body["dispatch_failed"]) == (3, 0)
    assert dict(tries) == {0: 2, 1: 2, 2: 2}


@pytest.mark.parametrize(("retry_after", "pause"), [("3", 3.0), ("120", 5.0)])
def test_throttling_waits_as_long_as_retry_after_asks_up_to_a_bound(
    stage: Stage, retry_after: str, pause: float
) -> None:
    # GIVEN Lambda throttles each shard once and asks to wait `retry_after` seconds
    tries = Counter[int]()
    lock = threading.Lock()

    def throttle(function: str, payload: dict[str, Any]) -> AWSResponse | None:
        with lock:
            tries[payload["shard_id"]] += 1
            first = tries[payload["shard_id"]] == 1
        headers = {"Retry-After": retry_after}
        return lambda_error(429, "TooManyRequestsException", "Rate Exceeded.", headers) if first else None

    stage.invokes.fault = throttle
    body = stage.call("POST", "/runs", SWEEP)[1]
    # THEN the pause before the second attempt is the Retry-After (not the 0.1 s backoff), at most 5 s
    assert body["dispatched"] == 3
    assert stage.sleeps == [pause] * 3


def test_duplicate_delivery_of_a_shard_task_gives_one_outcome(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    task = stage.invokes.take(WORKER)[0]
    threads = [threading.Thread(target=stage.deliver, args=(task,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stage.deliver(task)
    shard = task["shard_id"]
    assert stage.object_keys(layout.outcomes_prefix("faults-1")) == [layout.outcome_key("faults-1", "success", shard)]
    assert stage.object_keys(layout.points_prefix("faults-1")) == [vouched_points_key(stage.store, "faults-1", shard)]


# --- fan-out ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_large_runs_fan_out_through_the_orchestrator_itself(stage: Stage) -> None:
    # GIVEN at most 10 shards per dispatching invocation, and a run of 250 shards
    stage.put_setting("fanout_batch_size", "10")
    sweep = {**SWEEP, "run_id": "wide-1", "grid": {"x": list(range(250))}, "shard_size": 1}
    # WHEN it is submitted THEN the API invocation invokes the first 8 shards itself (its first
    # shards start without waiting for a child dispatcher) and hands the other 242 to 10 of itself
    status, body = stage.call("POST", "/runs", sweep)
    assert (status, body["dispatched"], body["delegated"]) == (202, LEAD_SHARDS, 250 - LEAD_SHARDS)
    lead = stage.invokes.take(WORKER)
    assert [task["shard_id"] for task in lead] == list(range(LEAD_SHARDS))
    children = stage.invokes.take(ORCHESTRATOR)
    assert len(children) == 10
    assert all(c["config"] == sweep["config"] for c in children)  # the config travels, never re-read
    # AND each child invokes 8 of its shards and splits the others into dispatchers of at most 10
    for child in children:
        size = sum(b - a for a, b, _ in child["shards"])
        assert handler.handler(child, LambdaContext()) == {
            "run_id": "wide-1",
            "dispatched": LEAD_SHARDS,
            "delegated": size - LEAD_SHARDS,
            "failed": 0,
        }
    grandchildren = stage.invokes.take(ORCHESTRATOR)
    assert max(sum(b - a for a, b, _ in g["shards"]) for g in grandchildren) <= 10
    stage.invokes.calls.extend((ORCHESTRATOR, g) for g in grandchildren)
    results = [stage.deliver(task) for task in lead] + stage.run_all()
    # THEN every shard ran exactly once
    assert sorted(r["shard_id"] for r in results) == list(range(250))
    assert stage.call("GET", "/runs/wide-1")[1]["state"] == "succeeded"


def test_a_dispatcher_that_cannot_be_started_fails_its_shards_visibly(stage: Stage) -> None:
    stage.put_setting("fanout_batch_size", "10")
    stage.put_setting("dispatch_max_attempts", "2")
    stage.invokes.fault = lambda function, payload: (
        lambda_error(500, "ServiceException", "boom") if function == ORCHESTRATOR else None
    )
    body = stage.call("POST", "/runs", {**SWEEP, "run_id": "wide-2", "grid": {"x": list(range(30))}, "shard_size": 1})[
        1
    ]
    # THEN the 8 shards it invoked itself were handed over, and the 22 it could not delegate failed
    assert (body["dispatched"], body["delegated"], body["dispatch_failed"]) == (LEAD_SHARDS, 0, 30 - LEAD_SHARDS)
    assert len(stage.run_all()) == LEAD_SHARDS
    status = stage.call("GET", "/runs/wide-2")[1]
    assert (status["state"], status["error_codes"]) == ("partial", {"DISPATCH_FAILED": 30 - LEAD_SHARDS})


# --- secrets ------------------------------------------------------------------------------------


class NeedsKey(BaseModel):
    x: int = 0


def test_experiment_secrets_come_from_ssm_and_never_reach_outcomes(stage: Stage, caplog: Any) -> None:
    seen: list[str] = []
    experiment = Experiment(
        name="llm",
        config_model=NeedsKey,
        secrets=("api_key",),
        run=lambda cfg, s: seen.append(s["api_key"]) or {"ok": 1.0},
    )
    deps = WorkerDeps(
        store=stage.worker.store, registry=Registry([experiment]), secrets=SsmSecrets(PREFIX, client=stage.ssm)
    )
    task = {
        "kind": "sweep.shard",
        "run_id": "llm-1",
        "shard_id": 0,
        "shard_count": 1,
        "start": 0,
        "stop": 1,
        "experiment": "llm",
        "config": {"x": 1},
        "spec": {},
        "settings": {},
    }
    # a missing secret fails the shard with a message naming the parameter
    result = process_event(task, deps)
    assert result["error_code"] == "SECRET_UNAVAILABLE"
    assert f"`{PREFIX}secrets/api_key` could not be read" in result["error_message"]
    # once it exists (SecureString), the experiment receives it; it appears nowhere else
    stage.ssm.put_parameter(Name=f"{PREFIX}secrets/api_key", Value="s3cr3t-value", Type="SecureString")
    process_event({**task, "run_id": "llm-2"}, deps)
    assert seen == ["s3cr3t-value"]
    everything = b"".join(stage.store.get(k) or b"" for k in stage.object_keys())
    assert b"s3cr3t-value" not in everything
    assert "s3cr3t-value" not in caplog.text
    assert "s3cr3t-value" not in json.dumps(task)
