"""The fault matrix: every cell injects one fault into a run on a stage (moto), lets Lambda's own
retries and destination do what they do, recovers as a user would (`sweep retry`), and then the
invariant checker must find nothing wrong and the run must have succeeded.

docs/reliability.md (`## Fault matrix`) lists the cells and their verdicts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from sweep_contracts import layout
from sweep_contracts.experiments import Registry
from sweep_contracts.storage import MemoryStore
from sweep_worker.runner import WorkerDeps, process_event
from tests.cloud import WORKER, Stage, json_error, lambda_error
from tests.faults import (
    Delivery,
    KillAfterWrite,
    KillDuringPoints,
    Killed,
    S3WriteFault,
    recover,
    submit,
)
from tests.helpers import assert_invariants, runtime_for, submit_run

RUN = "matrix-1"
SWEEP: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": RUN,
    "config": {"y": 0.5},
    "grid": {"x": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]},
    "shard_size": 3,
}
OUTCOMES = f"outcomes/run_id={RUN}/"
SUCCESS = f"{OUTCOMES}status=success/"
FAILURE = f"{OUTCOMES}status=failure/"
POINTS = layout.points_prefix(RUN)
MANIFEST = layout.manifest_key(RUN)


@dataclass
class Armed:
    """A fault in place: how to take it away, and how often it struck."""

    disarm: Callable[[], None]
    fired: Callable[[], int]


@dataclass
class Cell:
    """One fault: how to arm it on the stage, and how the worker's deliveries behave meanwhile."""

    name: str
    arm: Callable[[Stage], Armed]
    budget_ms: Callable[[], float] = field(default=lambda: 900_000.0)
    lasting: bool = False
    """The fault outlasts the first recovery; a later touch (the next `sweep retry`) must finish."""


def s3(fault: S3WriteFault | KillAfterWrite) -> Callable[[Stage], Armed]:
    def arm(stage: Stage) -> Armed:
        fault.arm(stage)
        return Armed(lambda: fault.disarm(stage), lambda: fault.hits)

    return arm


def killed_during_points(at: int) -> Callable[[Stage], Armed]:
    def arm(stage: Stage) -> Armed:
        registry, kill = stage.worker.registry, KillDuringPoints(at)
        stage.worker = WorkerDeps(store=stage.worker.store, registry=kill.registry(registry))
        return Armed(
            lambda: setattr(stage, "worker", WorkerDeps(store=stage.worker.store, registry=registry)),
            lambda: kill.kills,
        )

    return arm


def ssm_down(stage: Stage) -> Armed:
    calls = [0]

    def broken(**_: Any) -> Any:
        calls[0] += 1
        return json_error(500, "InternalServerError", "SSM is having a day")

    events = ("before-send.ssm.GetParameters", "before-send.ssm.GetParametersByPath")  # settings, defaults
    for event in events:
        stage.ssm.meta.events.register(event, broken)

    def disarm() -> None:
        for event in events:
            stage.ssm.meta.events.unregister(event, broken)

    return Armed(disarm, lambda: calls[0])


def invoke_throttled(stage: Stage) -> Armed:
    calls = [0]

    def throttle(function: str, payload: dict[str, Any]) -> Any:
        calls[0] += 1
        return lambda_error(429, "TooManyRequestsException", "Rate Exceeded.")

    stage.invokes.fault = throttle
    return Armed(lambda: setattr(stage.invokes, "fault", None), lambda: calls[0])


def orchestrator_dies_mid_dispatch(stage: Stage) -> Armed:
    sent = [0]

    def die(function: str, payload: dict[str, Any]) -> None:
        sent[0] += 1
        if sent[0] == 2:  # the first shard went out; the process dies sending the second
            raise Killed("the orchestrator died mid-dispatch")

    stage.invokes.fault = die
    return Armed(lambda: setattr(stage.invokes, "fault", None), lambda: int(sent[0] >= 2))


def time_budget_then(fault: S3WriteFault) -> Cell:
    """Every shard stops early (TIME_BUDGET) and its failure outcome's write meets `fault`."""
    return Cell(f"failure outcome write: {fault.kind}", s3(fault), budget_ms=lambda: 1.0)


CELLS = [
    Cell("worker killed before any point", killed_during_points(0)),
    Cell("worker killed mid-points", killed_during_points(1)),
    Cell("worker killed after its points, before the outcome", s3(S3WriteFault(OUTCOMES, "kill_before"))),
    Cell("worker killed after the outcome", s3(KillAfterWrite(SUCCESS))),
    Cell("points write: failed cleanly", s3(S3WriteFault(POINTS, "clean"))),
    Cell("points write: committed, client saw an error", s3(S3WriteFault(POINTS, "committed"))),
    Cell("success outcome write: failed cleanly", s3(S3WriteFault(SUCCESS, "clean"))),
    Cell("success outcome write: committed, error after retries", s3(S3WriteFault(SUCCESS, "committed"))),
    Cell("success outcome write: committed, error once", s3(S3WriteFault(SUCCESS, "committed", times=1))),
    time_budget_then(S3WriteFault(FAILURE, "clean")),
    time_budget_then(S3WriteFault(FAILURE, "committed")),
    Cell(
        "stale failure delete: failed cleanly, always",
        s3(S3WriteFault(FAILURE, "clean", times=10**6, operations=("DeleteObject",))),
        budget_ms=lambda: 1.0,
        lasting=True,
    ),
    Cell("manifest write: failed cleanly", s3(S3WriteFault(MANIFEST, "clean"))),
    Cell("manifest write: committed, error after retries", s3(S3WriteFault(MANIFEST, "committed"))),
    Cell("manifest write: committed, error once", s3(S3WriteFault(MANIFEST, "committed", times=1))),
    Cell("orchestrator dies mid-dispatch", orchestrator_dies_mid_dispatch),
    Cell("SSM down", ssm_down),
    Cell("Invoke throttled", invoke_throttled),
]


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_after_recovery_every_invariant_holds(stage: Stage, cell: Cell) -> None:
    # GIVEN a fault armed on the stage
    armed = cell.arm(stage)
    # WHEN a run is submitted (a client retries a 5xx, and resubmits when the connection died)
    # and Lambda delivers each task (three attempts, then the on-failure destination)
    try:
        submit(stage, SWEEP)
    except Killed:
        armed.disarm()
        submit(stage, SWEEP)
    stage.run_all(deliver=Delivery(stage, stage.worker, cell.budget_ms))
    if cell.lasting:
        recover(stage, RUN)  # the fault still strikes: readers must already resolve what it leaves
        assert stage.call("GET", f"/runs/{RUN}")[1]["state"] == "succeeded"
    armed.disarm()
    assert armed.fired() > 0, "the fault never struck: the cell tests nothing"
    if cell.lasting:
        recover(stage, RUN)  # the next touch, once the fault has passed
    # AND the user recovers with `sweep retry` (twice at most, as a user would look and retry)
    for _ in range(2):
        if stage.call("GET", f"/runs/{RUN}")[1]["state"] == "succeeded":
            break
        recover(stage, RUN)
    # THEN the checker finds no violation and every point ran
    report = assert_invariants(stage.store, RUN)
    status = stage.call("GET", f"/runs/{RUN}")[1]
    assert (status["state"], status["points_ok"], report.rows_checked) == ("succeeded", 9, 9)


def test_the_same_task_delivered_twice_in_sequence_leaves_one_outcome(stage: Stage) -> None:
    submit(stage, SWEEP)
    tasks = stage.invokes.take(WORKER)
    for task in tasks + tasks:
        stage.deliver(task)
    report = assert_invariants(stage.store, RUN)
    assert (report.rows_checked, report.orphan_files) == (9, 0)


class Interleaving(MemoryStore):
    """One store, two worker copies of one shard: the short copy's points land only after the full
    copy's success — the interleaving that once left a success beside a points file with fewer rows."""

    def __init__(self) -> None:
        super().__init__()
        self.success_written = threading.Event()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        # points files are created with If-None-Match too (issue 22): the short copy's wait moved here
        if key.startswith("points/") and threading.current_thread().name == "short-copy":
            assert self.success_written.wait(10)
        created = super().put_if_absent(key, data)
        if "/status=success/" in key:
            self.success_written.set()
        return created


def test_two_copies_with_unequal_time_budgets_running_at_once_leave_only_vouched_rows() -> None:
    # GIVEN a one-shard run, and two deliveries of its task running at once: one with time for
    # every point, one whose budget runs out after the first point
    store = Interleaving()
    rt, dispatcher = runtime_for(store)
    submit_run({**SWEEP, "shard_size": 9}, rt)
    (task,) = dispatcher.events
    deps = WorkerDeps(store=store, registry=Registry.default())
    left = iter([10_000.0, 10_000.0] + [0.0] * 100)
    short = threading.Thread(
        name="short-copy", target=process_event, args=(task, deps), kwargs={"remaining_ms": lambda: next(left)}
    )
    full = threading.Thread(name="full-copy", target=process_event, args=(task, deps))
    # WHEN both run, the short copy writing its points after the full copy's success
    short.start()
    full.start()
    full.join(20)
    short.join(20)
    # THEN the success stands with its own 9 rows; the short copy's rows are vouched by nothing
    report = assert_invariants(store, RUN)
    assert report.rows_checked == 9
