"""A run the stage accepted is never `stalled` while its shards may still wait in Lambda's queue
(issue 22, item 1): Lambda retries a throttled event after 1, 2, 4 … up to 300 s, so a long run's
last shards start long after a shard's time budget; a shard is lost only once Lambda must have run
it or dropped it (`dispatched.overdue_at`). Status counts such shards `queued`, `--watch` follows
them, and `sweep retry` leaves them alone unless forced. The clock is injected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.cost.queueing import Queue
from sweep_orchestrator.dispatch import RecordingDispatcher
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.status import run_status
from sweep_orchestrator.submit import submit_run
from tests.helpers import FIXED_NOW, runtime_for

SHARDS = 5_000
SETTINGS = SystemSettings.resolve(
    {
        "worker_concurrency": 500,
        "worker_timeout_s": 900,
        "shard_time_budget_s": 900,
        "max_points": 10_000,
        "refuse_expiring_runs": 0,
        "max_run_cost_usd": 0,
    },
    source="default",
)
RUN: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "queued-1",
    "config": {"y": 0.0},
    "grid": {"x": list(range(SHARDS))},
    "shard_size": 1,
    "expected_point_s": 300,
}


@pytest.mark.slow
def test_a_long_queued_run_is_running_with_queued_shards_not_stalled_at_21_minutes() -> None:
    # GIVEN the run: 5,000 shards of a 300 s point, 500 workers, all dispatched at FIXED_NOW
    store = MemoryStore()
    rt, dispatcher = runtime_for(store, SETTINGS)
    submit_run(RUN, rt)
    assert len(dispatcher.events) == SHARDS
    timeline = {
        minutes: run_status(store, "queued-1", now=FIXED_NOW + timedelta(minutes=minutes)) for minutes in (10, 21, 120)
    }
    # THEN at 10 minutes the run is running; at 21 minutes (the old deadline: budget + 5 minutes) its
    # shards without outcome are queued, not stalled; so they are two hours in
    assert [(m, s.state, s.shards_queued) for m, s in timeline.items()] == [
        (10, "running", 0),
        (21, "running", SHARDS),
        (120, "running", SHARDS),
    ]
    # AND they are lost only once Lambda must have run each attempt of the last shard to start (the
    # queue of 900 s shards, capped by the event age) or dropped it
    deadline = timeline[21].overdue_at
    assert deadline is not None
    last_start = min(Queue(SHARDS, 900.0, 500).last_start_s, SETTINGS.max_event_age_s)
    assert deadline - FIXED_NOW == timedelta(seconds=last_start + 3 * 900 + 60 + 120 + 300)
    assert run_status(store, "queued-1", now=deadline + timedelta(minutes=1)).state == "stalled"


@pytest.mark.slow
def test_retry_leaves_queued_shards_alone_unless_forced() -> None:
    store = MemoryStore()
    rt, _ = runtime_for(store, SETTINGS)
    submit_run(RUN, rt)
    at_21_minutes = FIXED_NOW + timedelta(minutes=21)
    again = RecordingDispatcher()
    later = Runtime(store=store, dispatcher=again, settings=lambda: SETTINGS, clock=lambda: at_21_minutes)
    # WHEN `sweep retry` runs at 21 minutes THEN nothing is sent twice into Lambda's queue
    left = retry_run(later, "queued-1")
    assert (left.running, left.missing, left.dispatched, again.events) == (SHARDS, 0, 0, [])
    # AND `--force` sends them all again, as the next attempt
    forced = retry_run(later, "queued-1", all_overdue=True)
    assert (forced.missing, forced.dispatched) == (SHARDS, SHARDS)
    assert {e["attempt"] for e in again.events} == {2}
