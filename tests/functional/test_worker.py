"""The worker handler against a real store: every shard ends with exactly one outcome."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Sequence
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts import layout
from sweep_contracts.errors import InvalidTaskError
from sweep_contracts.experiments import Registry
from sweep_contracts.outcomes import Outcome
from sweep_contracts.points import PointSpace
from sweep_contracts.request import parse_request
from sweep_contracts.storage import LocalStore, MemoryStore, ObjectStore
from sweep_contracts.tasks import TaskFactory
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import run_sweep, tasks_for, vouched_points_key

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


class FakeTime:
    """A monotonic clock that moves only while points run: 50 ms a point, whether the experiment
    is called once per point (`run`) or once per chunk of points (`run_batch`)."""

    def __init__(self, budget_ms: float) -> None:
        self.now_s = 0.0
        self.budget_ms = budget_ms

    def timer(self) -> float:
        return self.now_s

    def remaining_ms(self) -> float:
        return self.budget_ms - self.now_s * 1000

    def registry(self, batched: bool) -> Registry:
        synthetic = Registry.default().get("synthetic")
        run, run_batch = synthetic.resolved_run(), synthetic.run_batch
        assert run_batch is not None

        def timed_run(config: Any) -> Any:
            self.now_s += 0.05
            return run(config)

        def timed_batch(configs: Sequence[Any]) -> Any:
            self.now_s += 0.05 * len(configs)
            return run_batch(configs)

        return Registry([dataclasses.replace(synthetic, run=timed_run, run_batch=timed_batch if batched else None)])


@pytest.mark.parametrize("batched", [False, True], ids=["point by point", "run_batch"])
def test_time_budget_stops_before_a_point_that_would_not_fit(memory_store: MemoryStore, batched: bool) -> None:
    # GIVEN 10 points that each take 50 ms, and 430 ms of budget (no margin)
    f = factory({"y": 0.5}, {"x": list(range(10))}, shard_size=10, settings={"time_budget_margin_ms": 0})
    fake = FakeTime(budget_ms=430)
    worker = WorkerDeps(store=memory_store, registry=fake.registry(batched), timer=fake.timer)
    # WHEN the worker runs the shard (batched: chunks of 1, 5, 1 and 1 points, each sized to what is left)
    result = process_event(f.event(0), worker, remaining_ms=fake.remaining_ms)
    # THEN it runs 8 points (400 ms) and stops: 30 ms are left, less than 1.5 x the 50 ms a point takes
    assert len(points(memory_store, 0)) == 8
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.error_code, outcome.points_ok, outcome.points_not_run) == (
        "failure",
        "TIME_BUDGET",
        8,
        2,
    )
    assert "after 8 of 10 points; 2 points were not run" in (outcome.error_message or "")
    assert result["error_code"] == "TIME_BUDGET"


@pytest.mark.parametrize("batched", [False, True], ids=["point by point", "run_batch"])
def test_a_budget_that_fits_every_point_runs_them_all(memory_store: MemoryStore, batched: bool) -> None:
    # GIVEN the same points and 1000 ms of budget: the last point starts with 550 ms left
    f = factory({"y": 0.5}, {"x": list(range(10))}, shard_size=10, settings={"time_budget_margin_ms": 0})
    fake = FakeTime(budget_ms=1000)
    worker = WorkerDeps(store=memory_store, registry=fake.registry(batched), timer=fake.timer)
    # WHEN the worker runs the shard
    process_event(f.event(0), worker, remaining_ms=fake.remaining_ms)
    # THEN all of them run and the shard succeeds
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.points_ok) == ("success", 10)


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

    def put_if_absent(self, key: str, data: bytes) -> bool:  # points are created, never replaced (issue 22)
        if key.startswith("points/"):
            raise OSError("disk full")
        return super().put_if_absent(key, data)


def test_a_store_that_refuses_the_points_gives_a_store_failure() -> None:
    store = FailingPuts()
    result = process_event(factory({"y": 1}, {"x": [1, 2]}, shard_size=2).event(0), deps(store))
    # the failure vouches for no rows: the points were evaluated but none were kept
    assert (result["error_code"], result["points_ok"], result["execution"]) == ("STORE_WRITE_FAILED", 0, None)
    assert result["error_message"] == "writing the points failed (2 points evaluated, not kept): disk full"


def test_a_range_past_the_sweep_records_invalid_task(memory_store: MemoryStore) -> None:
    # GIVEN a well-formed task whose range ends past its 3-point sweep
    event = {**factory({"y": 0.5}, {"x": [1, 2, 3]}, shard_size=3).event(0), "stop": 5}
    # WHEN the worker handles it
    result = process_event(event, deps(memory_store))
    # THEN it runs nothing and records INVALID_TASK for that shard
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.error_code, outcome.points_total) == ("failure", "INVALID_TASK", 5)
    assert (outcome.error_message or "").startswith(
        "shard 0 of run `run-1` asks for points up to 4, but the sweep has 3."
    )
    assert result["error_code"] == "INVALID_TASK"
    assert list(memory_store.list(layout.shard_points_prefix(RUN, 0))) == []


def test_a_malformed_task_that_names_its_run_records_invalid_task_not_missing_config(
    memory_store: MemoryStore,
) -> None:
    # GIVEN a task with its config but an empty range
    event = {**factory({"y": 0.5}, {"x": [1, 2, 3]}, shard_size=3).event(0), "start": 2, "stop": 2}
    # WHEN the worker handles it
    result = process_event(event, deps(memory_store))
    # THEN the outcome says the task was invalid (its config was there)
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.error_code, outcome.points_total) == ("failure", "INVALID_TASK", 0)
    assert result["error_code"] == "INVALID_TASK"


def test_an_unexpected_error_in_the_runner_records_internal_error(memory_store: MemoryStore) -> None:
    # GIVEN a runtime whose clock breaks (an error in sweep, not in the experiment)
    f = factory({"y": 0.5}, {"x": [1, 2]}, shard_size=2)

    def broken_clock() -> float:
        raise RuntimeError("the runtime's clock is gone")

    # WHEN the worker handles the shard
    result = process_event(f.event(0), deps(memory_store), remaining_ms=broken_clock)
    # THEN the shard fails with INTERNAL_ERROR naming the exception, and no point rows are written
    (outcome,) = outcomes(memory_store).values()
    assert (outcome.status, outcome.error_code, outcome.error_message) == (
        "failure",
        "INTERNAL_ERROR",
        "RuntimeError: the runtime's clock is gone",
    )
    assert result["error_code"] == "INTERNAL_ERROR"


def test_a_sample_sweep_runs_end_to_end(memory_store: MemoryStore) -> None:
    # GIVEN a sample sweep of 6 points over two axes, in shards of 4
    payload = {
        "experiment": "synthetic",
        "run_id": RUN,
        "config": {"y": 0.0},
        "sample": {"n": 6, "seed": 7, "space": {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}}},
        "shard_size": 4,
    }
    # WHEN it is submitted and every shard runs in the worker
    result, answers = run_sweep(payload, memory_store)
    # THEN both shards succeed and the point rows hold the sampled values, in draw order
    assert (result.points, result.shards) == (6, 2)
    assert [a["status"] for a in answers] == ["success", "success"]
    request = parse_request(payload)
    space = PointSpace(request, request.config)
    rows = points(memory_store, 0) + points(memory_store, 1)
    assert [r["point_index"] for r in rows] == list(range(6))
    assert [dict(r["params"]) for r in rows] == [
        {k: repr(v) for k, v in space.point(i).params.items()} for i in range(6)
    ]
    xs = [float(dict(r["params"])["x"]) for r in rows]
    ys = [float(dict(r["params"])["y"]) for r in rows]
    assert len(set(xs)) == 6  # every point draws its own value
    assert xs != ys  # and each axis its own
    assert all(-1 <= v < 1 for v in xs + ys)
    assert {r["series"] for r in rows} == {"sample"}


def test_the_worker_creates_its_points_and_success_only_as_the_role_allows_issue_22() -> None:
    # GIVEN a role that may put a points file or a success only with If-None-Match (policies.py)
    store = MemoryStore()
    # WHEN a shard runs
    result = process_event(factory({"y": 1}, {"x": [1, 2]}, shard_size=2).event(0), deps(store))
    assert result["status"] == "success"
    # THEN both are conditional creates, and no plain put touches points/ or a success
    writes = [(call, key) for call, key in store.calls if call in ("put", "put_if_absent")]
    created = {key.split("/")[0] + ("/success" if "status=success" in key else "") for call, key in writes}
    assert {"points", "outcomes/success"} <= created
    assert [key for call, key in writes if call == "put" and ("points/" in key or "status=success" in key)] == []
