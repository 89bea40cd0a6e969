"""Fault injection for the fault matrix: S3 writes that fail cleanly or commit and then answer an
error, workers killed at each step, Lambda's own retries and on-failure destination, and the
recovery a user would run (`sweep retry`).

Two kinds of S3 write failure, both with botocore `before-send` hooks on the stage's client:
- `clean`: the hook raises a connection error *before* the request is sent, so moto never sees
  it and nothing is written (botocore retries it like any connection error);
- `committed`: the hook answers 500, but moto has performed the write all the same — the client
  sees an error for a write that happened.
A kill is a `Killed` (a BaseException, so no `except Exception` in sweep catches it), raised by the
experiment (during points) or by a hook (around a write): the process is gone, nothing after runs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import EndpointConnectionError

from sweep_contracts.experiments import Experiment, Registry
from sweep_orchestrator import handler
from sweep_worker.runner import WorkerDeps, process_event
from tests.cloud import WORKER, LambdaContext, Stage, s3_error, s3_key

LAMBDA_ATTEMPTS = 3
"""Lambda's async invoke: the first attempt and two retries, then the on-failure destination."""


class Killed(BaseException):
    """The worker process died here (out of memory, the runtime's kill): nothing after runs."""


WriteKind = Literal["clean", "committed", "kill_before"]


@dataclass
class S3WriteFault:
    """Fails the next `times` S3 requests of `operations` on keys under `prefix`."""

    prefix: str
    kind: WriteKind
    times: int = LAMBDA_ATTEMPTS
    operations: tuple[str, ...] = ("PutObject",)
    hits: int = 0

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if not s3_key(request).startswith(self.prefix) or self.hits >= self.times:
            return None
        self.hits += 1
        if self.kind == "clean":
            raise EndpointConnectionError(endpoint_url=request.url)
        if self.kind == "kill_before":
            raise Killed(f"killed before {s3_key(request)} was written")
        return s3_error(500, "InternalError")

    def arm(self, stage: Stage) -> None:
        for operation in self.operations:
            stage.s3.meta.events.register(f"before-send.s3.{operation}", self)

    def disarm(self, stage: Stage) -> None:
        for operation in self.operations:
            stage.s3.meta.events.unregister(f"before-send.s3.{operation}", self)


@dataclass
class KillDuringPoints:
    """The experiment's process dies at its `at`-th point (0: before any point ran), `times` times.

    The worker's process dies, not the point's doing: a redelivery that isolates its points in
    child processes (sweep_worker.started) runs them undisturbed."""

    at: int
    times: int = LAMBDA_ATTEMPTS
    calls: int = 0
    kills: int = 0

    def registry(self, base: Registry) -> Registry:
        synthetic = base.get("synthetic")
        run, run_batch = synthetic.resolved_run(), synthetic.run_batch
        assert run_batch is not None
        worker = os.getpid()

        def reach(points: int) -> None:
            """The kill counts points, whether they come one per call (`run`) or in chunks (`run_batch`)."""
            self.calls += points
            if os.getpid() == worker and self.kills < self.times and self.calls > self.at:
                self.kills += 1
                self.calls = 0
                raise Killed(f"killed at point {self.at}")

        def killing_run(config: Any) -> Any:
            reach(1)
            return run(config)

        def killing_batch(configs: Sequence[Any]) -> Any:
            reach(len(configs))
            return run_batch(configs)

        experiment: Experiment[Any] = dataclasses.replace(synthetic, run=killing_run, run_batch=killing_batch)
        return Registry([experiment])


@dataclass
class KillAfterWrite:
    """The process dies right after S3 accepted a write under `prefix` (botocore's `after-call`)."""

    prefix: str
    times: int = 1
    operation: str = "PutObject"
    hits: int = 0
    key: str = ""

    def remember(self, params: dict[str, Any], **_: Any) -> None:
        self.key = str(params.get("Key", ""))

    def __call__(self, http_response: Any, **_: Any) -> None:
        if self.key.startswith(self.prefix) and self.hits < self.times and http_response.status_code < 300:
            self.hits += 1
            raise Killed(f"killed after {self.key} was written")

    def arm(self, stage: Stage) -> None:
        stage.s3.meta.events.register(f"provide-client-params.s3.{self.operation}", self.remember)
        stage.s3.meta.events.register(f"after-call.s3.{self.operation}", self)

    def disarm(self, stage: Stage) -> None:
        stage.s3.meta.events.unregister(f"provide-client-params.s3.{self.operation}", self.remember)
        stage.s3.meta.events.unregister(f"after-call.s3.{self.operation}", self)


def destination_record(task: dict[str, Any], error: BaseException) -> dict[str, Any]:
    """What Lambda sends the on-failure destination once every attempt of `task` failed."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-21T12:00:00.000Z",
        "requestContext": {
            "requestId": "c0ffee",
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{WORKER}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": LAMBDA_ATTEMPTS,
        },
        "requestPayload": task,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
    }


@dataclass
class Delivery:
    """Lambda's async delivery of worker tasks: up to three attempts, then the destination record."""

    stage: Stage
    worker: WorkerDeps
    remaining_ms: Callable[[], float] = field(default=lambda: 900_000.0)
    destinations: int = 0

    def __call__(self, task: dict[str, Any]) -> dict[str, Any]:
        error: BaseException | None = None
        for _ in range(LAMBDA_ATTEMPTS):
            try:
                return process_event(task, self.worker, remaining_ms=self.remaining_ms, request_id="worker-req")
            except (Killed, Exception) as exc:  # the invocation failed: Lambda retries it
                error = exc
        assert error is not None
        self.destinations += 1
        return dict(handler.handler(destination_record(task, error), LambdaContext()))


def submit(stage: Stage, payload: dict[str, Any], tries: int = 3) -> tuple[int, Any]:
    """POST /runs as a client does: a 5xx answer is retried with the same body."""
    for _ in range(tries):
        status, body = stage.call("POST", "/runs", payload)
        if status < 500:
            return status, body
    return status, body


def recover(stage: Stage, run_id: str) -> list[dict[str, Any]]:
    """What a user does after faults: `sweep retry`, and the workers run what it dispatched."""
    status, _ = stage.call("POST", f"/runs/{run_id}/retry")
    assert status == 202
    return stage.run_all()
