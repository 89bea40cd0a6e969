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
    # WHEN the root dispatches them and every child dispatcher runs in turn
    root = dispatcher.dispatch_shards(factory, [(k, 1) for k in range(shards)], policy)
    sent = 0
    while True:
        with recorder.lock:
            children = [p for f, p in recorder.calls[sent:] if f == ORCHESTRATOR]
            sent = len(recorder.calls)
        if not children:
            break
        for child in children:
            task = DispatchTask.model_validate(child)
            report = dispatcher.dispatch_shards(task.factory(), task.refs(), policy)
            # THEN no node sends more than one wave of shards itself plus `fanout` dispatchers
            assert report.dispatched <= max(fanout, lead_count(policy))
            assert not report.failed
    # THEN each shard reached the worker exactly once, the root's first shards from the root itself
    workers = Counter(p["shard_id"] for f, p in recorder.calls if f == WORKER)
    assert workers == Counter(range(shards))
    assert root.dispatched + root.delegated == shards
    if shards > fanout:
        assert root.dispatched == lead_count(policy)
        first = [p["shard_id"] for f, p in recorder.calls if f == WORKER][: root.dispatched]
        assert sorted(first) == list(range(root.dispatched))
