"""The worker handler against a real store: every shard ends with exactly one outcome."""

from __future__ import annotations

import io
import time
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts import layout
from sweep_contracts.errors import InvalidTaskError
from sweep_contracts.experiments import Registry
from sweep_contracts.outcomes import Outcome
from sweep_contracts.storage import LocalStore, MemoryStore, ObjectStore
from sweep_contracts.tasks import TaskFactory
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import tasks_for, vouched_points_key

RUN = "run-1"


def factory(
    config: dict[str, Any],
    grid: dict[str, list[Any]],
    shard_size: int,
    repeats: int = 1,
    settings: dict[str, int] | None = None,
) -> TaskFactory:
    payload = {"experiment": "synthetic", "config": config, "grid": grid, "repeats": repeats}
    return tasks_for(payload, RUN, shard_size, settings)


def deps(store: ObjectStore) -> WorkerDeps:
    return WorkerDeps(store=store, registry=Registry.default())


def outcomes(store: ObjectStore) -> dict[str, Outcome]:
    return {key: Outcome.from_parquet(store.get(key) or b"", RUN) for key in store.list("outcomes/")}


def points(store: ObjectStore, shard: int) -> list[dict[str, Any]]:
    key = vouched_points_key(store, RUN, shard)
    assert key is not None
    data = store.get(key)
    assert data is not None
    return pq.read_table(io.BytesIO(data)).to_pylist()


def test_a_shard_writes_its_points_and_one_success(local_store: LocalStore) -> None:
    # GIVEN a shard of 4 points (2 x-values, 2 repeats)
    f = factory({"y": 0.5}, {"x": [0.1, 0.2]}, shard_size=4, repeats=2)
    # WHEN the worker handles it
    result = process_event(f.event(0), deps(local_store), request_id="req-1")
    # THEN the points hold each point's params, metrics and effective config
    rows = points(local_store, 0)
    assert [(r["point_index"], r["series"], r["repeat"], r["params"], r["status"]) for r in rows] == [
        (0, "grid", 0, [("x", "0.1")], "ok"),
        (1, "grid", 1, [("x", "0.1")], "ok"),
        (2, "grid", 0, [("x", "0.2")], "ok"),
        (3, "grid", 1, [("x", "0.2")], "ok"),
    ]
    assert rows[3]["config_json"] == '{"seed":1,"x":0.2,"y":0.5}'
    assert dict(rows[0]["metrics"])["value"] == pytest.approx(-((0.1 - 0.3) ** 2 + 0.7**2))
    # AND exactly one outcome, a success
    (outcome,) = outcomes(local_store).values()
    assert (outcome.status, outcome.points_total, outcome.points_ok, outcome.points_failed) == ("success", 4, 4, 0)
    assert outcome.request_id == "req-1"
    assert result["status"] == "success"


def test_a_raising_point_becomes_an_error_row_and_the_shard_goes_on(memory_store: MemoryStore) -> None:
    f = factory({"fail_rate": 1.0}, {"x": [1, 2, 3]}, shard_size=3)
    process_event(f.event(0), deps(memory_store))
    rows = points(memory_store, 0)
    assert [r["status"] for r in rows] == ["error"] * 3
    assert rows[0]["error_type"] == "InjectedError"
    assert rows[0]["error_message"] == "injected failure at x=1.0, y=0.0, seed=0 (fail_rate=1.0)"
    assert rows[0]["metrics"] == []
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.points_ok, outcome.points_failed) == ("success", 0, 3)


def test_an_invalid_point_config_is_an_error_row_naming_the_field(memory_store: MemoryStore) -> None:
    # combinations are not all checked at submit time: a bad value the worker meets is a point error
    f = tasks_for({"experiment": "maze", "config": {"size": 5}, "points": [{"size": 5}, {"size": 0}]}, RUN)
    process_event(f.event(0), deps(memory_store))
    rows = points(memory_store, 0)
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert (rows[1]["error_type"], rows[1]["error_message"]) == (
        "ConfigError",
        "the point's effective config is invalid: `size`: input should be greater than or equal to 2; got 0",
    )


def test_time_budget_stops_the_shard_and_says_what_was_not_run(memory_store: MemoryStore) -> None:
    # GIVEN 10 points of 40 ms and 150 ms of budget (no margin)
    f = factory({"sleep_ms": 40}, {"x": list(range(10))}, shard_size=10, settings={"time_budget_margin_ms": 0})
    deadline = time.monotonic() + 0.15
    result = process_event(f.event(0), deps(memory_store), remaining_ms=lambda: (deadline - time.monotonic()) * 1000)
    # THEN the points that ran are written, and the outcome is a TIME_BUDGET failure saying how many did not run
    written = len(points(memory_store, 0))
    assert 1 <= written <= 3
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.error_code, outcome.points_ok) == ("failure", "TIME_BUDGET", written)
    assert outcome.points_not_run == 10 - written
    assert f"after {written} of 10 points; {10 - written} points were not run" in (outcome.error_message or "")
    assert result["error_code"] == "TIME_BUDGET"


def test_a_point_that_overruns_the_budget_is_interrupted(memory_store: MemoryStore) -> None:
    f = factory({"sleep_ms": 5000}, {"x": [1, 2]}, shard_size=2, settings={"time_budget_margin_ms": 0})
    started = time.monotonic()
    process_event(f.event(0), deps(memory_store), remaining_ms=lambda: (started + 0.2 - time.monotonic()) * 1000)
    assert time.monotonic() - started < 2
    (outcome,) = outcomes(memory_store).values()
    assert outcome.error_code == "TIME_BUDGET"
    assert (outcome.error_message or "").startswith("point 0 ran past the time budget and was interrupted.")


def test_rerunning_a_failed_shard_overwrites_and_removes_the_failure(memory_store: MemoryStore) -> None:
    # GIVEN a shard that failed on its time budget
    f = factory({"sleep_ms": 30}, {"x": list(range(4))}, shard_size=4, settings={"time_budget_margin_ms": 0})
    process_event(f.event(0), deps(memory_store), remaining_ms=lambda: 0.0)
    assert list(outcomes(memory_store)) == [layout.outcome_key(RUN, "failure", 0)]
    # WHEN it is retried with time enough
    process_event(f.event(0, attempt=2), deps(memory_store))
    # THEN one outcome remains, the success of attempt 2, and all points are there once
    (outcome,) = outcomes(memory_store).values()
    assert list(outcomes(memory_store)) == [layout.outcome_key(RUN, "success", 0)]
    assert (outcome.attempt, outcome.points_ok) == (2, 4)
    assert [r["point_index"] for r in points(memory_store, 0)] == [0, 1, 2, 3]


def test_duplicate_delivery_after_success_changes_nothing(memory_store: MemoryStore) -> None:
    f = factory({"y": 1}, {"x": [1, 2]}, shard_size=2)
    process_event(f.event(0), deps(memory_store))
    before = dict(memory_store.objects)
    result = process_event(f.event(0), deps(memory_store))
    assert result == {"run_id": RUN, "shard_id": 0, "status": "success", "duplicate": True}
    assert memory_store.objects == before


def test_a_task_without_config_is_refused_with_an_outcome(memory_store: MemoryStore) -> None:
    event = factory({"y": 1}, {"x": [1, 2]}, shard_size=2).event(0)
    del event["config"]
    result = process_event(event, deps(memory_store))
    assert result["error_code"] == "MISSING_CONFIG"
    assert not list(memory_store.list(layout.points_prefix(RUN)))  # nothing ran
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.error_code, outcome.points_total) == ("failure", "MISSING_CONFIG", 2)


def test_a_late_refusal_never_contradicts_a_success(memory_store: MemoryStore) -> None:
    f = factory({"y": 1}, {"x": [1, 2]}, shard_size=2)
    process_event(f.event(0), deps(memory_store))
    event = f.event(0)
    event["config"] = {}
    assert process_event(event, deps(memory_store))["duplicate"] is True
    assert list(outcomes(memory_store)) == [layout.outcome_key(RUN, "success", 0)]


def test_an_unreadable_event_raises_since_no_outcome_can_be_recorded(memory_store: MemoryStore) -> None:
    with pytest.raises(InvalidTaskError):
        process_event({"hello": "world", "config": {"a": 1}}, deps(memory_store))
    assert memory_store.objects == {}


def test_an_experiment_the_worker_lacks_fails_the_shard(memory_store: MemoryStore) -> None:
    f = factory({"y": 1}, {"x": [1]}, shard_size=1)
    result = process_event(f.event(0), WorkerDeps(store=memory_store, registry=Registry()))
    assert result["error_code"] == "EXPERIMENT_UNAVAILABLE"


class FailingPuts(MemoryStore):
    """Refuses writes of point files, as a store in trouble would."""

    def put(self, key: str, data: bytes) -> None:
        if key.startswith("points/"):
            raise OSError("disk full")
        super().put(key, data)


def test_a_store_that_refuses_the_points_gives_a_store_failure() -> None:
    store = FailingPuts()
    result = process_event(factory({"y": 1}, {"x": [1, 2]}, shard_size=2).event(0), deps(store))
    # the failure vouches for no rows: the points were evaluated but none were kept
    assert (result["error_code"], result["points_ok"], result["execution"]) == ("STORE_WRITE_FAILED", 0, None)
    assert result["error_message"] == "writing the points failed (2 points evaluated, not kept): disk full"
