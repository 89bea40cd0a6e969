"""The dispatch fan-out tree hands every shard to exactly one worker invoke, whatever its shape: a
node that delegates invokes its first shards itself (one wave of its threads) and splits the rest
among child dispatchers (issue 13: the first shards start without waiting for a child)."""

from __future__ import annotations

import json
import threading
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sweep_aws.invoke import InvokeResult
from sweep_contracts.tasks import TaskFactory
from sweep_orchestrator.dispatch import DispatchReport
from sweep_orchestrator.dispatch_task import DispatchTask
from sweep_orchestrator.lambda_dispatch import DispatchPolicy, LambdaDispatcher, lead_count
from tests.helpers import tasks_for

WORKER, ORCHESTRATOR = "worker", "orchestrator"


class Recorder:
    """Accepts every invoke and keeps it, as Lambda's async queue would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.lock = threading.Lock()

    def invoke_async(self, function: str, payload: bytes) -> InvokeResult:
        with self.lock:
            self.calls.append((function, json.loads(payload)))
        return InvokeResult(accepted=True)


@settings(max_examples=60, deadline=None)
@given(
    shards=st.integers(1, 400),
    fanout=st.integers(10, 60),
    concurrency=st.integers(1, 40),
)
def test_every_shard_is_invoked_exactly_once_through_the_tree(shards: int, fanout: int, concurrency: int) -> None:
    # GIVEN a run of `shards` one-point shards and a dispatch policy
    factory = tasks_for(
        {"experiment": "synthetic", "config": {"noise": 0.0}, "grid": {"x": list(range(shards))}}, "tree-1", 1
    )
    policy = DispatchPolicy(concurrency=concurrency, max_attempts=1, fanout_batch=fanout)
    recorder = Recorder()
    dispatcher = LambdaDispatcher(recorder, WORKER, ORCHESTRATOR)
    sizes: list[tuple[int, int, int]] = []  # per node: its shards, the workers and dispatchers it invoked

    def node(task_factory: TaskFactory, refs: list[tuple[int, int]]) -> DispatchReport:
        before = len(recorder.calls)
        report = dispatcher.dispatch_shards(task_factory, refs, policy)
        sent = [f for f, _ in recorder.calls[before:]]
        sizes.append((len(refs), sent.count(WORKER), sent.count(ORCHESTRATOR)))
        assert not report.failed
        return report

    # WHEN the root dispatches them and every child dispatcher runs in turn
    root = node(factory, [(k, 1) for k in range(shards)])
    seen = 0
    while children := [p for f, p in recorder.calls[seen:] if f == ORCHESTRATOR]:
        seen = len(recorder.calls)
        for child in children:
            task = DispatchTask.model_validate(child)
            node(task.factory(), task.refs())
    # THEN a node with at most `fanout` shards invokes them all; a larger one invokes its lead and
    # hands the rest to at most `fanout` dispatchers
    for size, workers_sent, dispatchers_sent in sizes:
        if size <= fanout:
            assert (workers_sent, dispatchers_sent) == (size, 0)
        else:
            assert workers_sent == lead_count(policy)
            assert 1 <= dispatchers_sent <= fanout
    # AND each shard reached the worker exactly once, the root's first shards from the root itself
    workers = Counter(p["shard_id"] for f, p in recorder.calls if f == WORKER)
    assert workers == Counter(range(shards))
    assert root.dispatched + root.delegated == shards
    if shards > fanout:
        assert root.dispatched == lead_count(policy)
        first = [p["shard_id"] for f, p in recorder.calls if f == WORKER][: root.dispatched]
        assert sorted(first) == list(range(root.dispatched))
