"""What the worker leaves in the store, seen from the store: the units of the durations it writes,
when its rows say they finished, the counts of a refused task, the started markers a failure
leaves, and what a retry does when it cannot read its previous outcome. Through `process_event`
only, so that how the worker builds a row is free to change."""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts import layout
from sweep_contracts.errors import SecretUnavailableError, StoreError
from sweep_contracts.experiments import Registry
from sweep_contracts.outcomes import ErrorCode, Outcome, record_outcome
from sweep_contracts.storage import LocalStore, MemoryStore, ObjectStore
from sweep_contracts.tasks import TaskFactory
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import tasks_for, vouched_points_key
from tests.llm_fake import FakeModelServer

RUN = "observed-1"
T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def synthetic(points: int = 3, **config: Any) -> TaskFactory:
    payload = {"experiment": "synthetic", "config": {"y": 0.0, **config}, "grid": {"x": list(range(points))}}
    return tasks_for(payload, RUN)


def crashing(crash_at: set[int], size: int = 4) -> TaskFactory:
    points = [{"x": i, "crash": i in crash_at} for i in range(size)]
    return tasks_for({"experiment": "synthetic", "config": {"y": 0.0}, "points": points}, RUN)


def stepping_clock(step: timedelta) -> Callable[[], datetime]:
    """A wall clock that moves `step` on at every reading, however many readings the worker takes."""
    ticks = itertools.count()
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return T0 + next(ticks) * step

    return now


def whole_seconds_timer() -> Callable[[], float]:
    """A monotonic timer that reads 1.0, 2.0, 3.0 …: every duration measured on it is a whole
    number of seconds, at least one, so a duration in milliseconds is a non-zero multiple of 1000."""
    ticks = itertools.count(1)
    lock = threading.Lock()

    def timer() -> float:
        with lock:
            return float(next(ticks))

    return timer


def stored_outcome(store: ObjectStore, status: str) -> Outcome:
    data = store.get(layout.outcome_key(RUN, status, 0))
    assert data is not None, f"no {status} outcome"
    return Outcome.from_parquet(data, RUN)


def rows(store: ObjectStore) -> list[dict[str, Any]]:
    key = vouched_points_key(store, RUN, 0)
    assert key is not None
    return list(pq.read_table(io.BytesIO(store.get(key) or b"")).to_pylist())


def in_child(work: Callable[[], dict[str, Any]], answer: Path) -> dict[str, Any]:
    """Run `work` in a forked process, as a pool worker or Lambda would; its exit code and result."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            answer.write_text(json.dumps(work()))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return {"exit": code, **(json.loads(answer.read_text()) if code == 0 else {})}


def crashed_before(store: ObjectStore, code: ErrorCode = ErrorCode.WORKER_CRASHED) -> None:
    """Attempt 1's failure outcome, with `code`."""
    record_outcome(
        store,
        Outcome.failure(
            run_id=RUN,
            shard_id=0,
            code=code,
            message="…",
            points_total=4,
            started_at=T0,
            finished_at=T0,
        ),
    )


@pytest.fixture
def ollama() -> Iterator[FakeModelServer]:
    with FakeModelServer(delay_s=0.01).running() as server:
        yield server


def ollama_shard(url: str, points: int = 4) -> TaskFactory:
    config = {"endpoint": url, "model": "m", "tasks": "arithmetic", "temperature": 0.0, "concurrency": 2}
    return tasks_for({"experiment": "ollama", "config": config, "grid": {"task_index": list(range(points))}}, RUN)


def llm_deps(store: ObjectStore, **changes: Any) -> WorkerDeps:
    return WorkerDeps(store, Registry.default(), secrets=lambda names: dict.fromkeys(names, "k"), **changes)


# --- durations: milliseconds ----------------------------------------------------------------------


def test_a_success_records_its_duration_in_milliseconds_of_its_clock(memory_store: MemoryStore) -> None:
    # GIVEN a worker whose clock moves 1.5 s at every reading
    deps = WorkerDeps(memory_store, Registry.default(), clock=stepping_clock(timedelta(seconds=1.5)))
    # WHEN a shard succeeds
    result = process_event(synthetic().event(0), deps)
    # THEN its duration is the time between its start and its end, in milliseconds
    outcome = stored_outcome(memory_store, "success")
    elapsed_ms = (outcome.finished_at - outcome.started_at).total_seconds() * 1000
    assert elapsed_ms >= 1500
    assert outcome.duration_ms == elapsed_ms
    assert result["duration_ms"] == elapsed_ms


def test_a_failure_records_its_duration_in_milliseconds_of_its_clock(memory_store: MemoryStore) -> None:
    deps = WorkerDeps(memory_store, Registry.default(), clock=stepping_clock(timedelta(seconds=1.5)))
    process_event(synthetic().event(0) | {"experiment": "not-installed"}, deps)
    outcome = stored_outcome(memory_store, "failure")
    elapsed_ms = (outcome.finished_at - outcome.started_at).total_seconds() * 1000
    assert elapsed_ms >= 1500
    assert outcome.duration_ms == elapsed_ms


def test_an_io_bound_point_records_its_duration_in_milliseconds_of_the_timer(
    memory_store: MemoryStore, ollama: FakeModelServer
) -> None:
    deps = llm_deps(memory_store, timer=whole_seconds_timer())
    process_event(ollama_shard(ollama.url).event(0), deps)
    durations = [r["duration_ms"] for r in rows(memory_store)]
    assert len(durations) == 4
    assert all(d >= 1000 and d % 1000 == 0 for d in durations), durations


# --- when a row says it finished ------------------------------------------------------------------


def test_the_rows_of_an_io_bound_shard_finish_when_their_points_did(
    memory_store: MemoryStore, ollama: FakeModelServer
) -> None:
    # GIVEN an I/O-bound experiment (its points run concurrently)
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    # WHEN its shard runs
    process_event(ollama_shard(ollama.url).event(0), llm_deps(memory_store))
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    # THEN every row's finished_at is a moment during the run, to the millisecond
    written = rows(memory_store)
    assert [r["status"] for r in written] == ["ok"] * 4
    assert all(before <= r["finished_at"] <= after for r in written), [r["finished_at"] for r in written]


def test_a_crash_row_finishes_when_its_point_ended_its_process(tmp_path: Path) -> None:
    # GIVEN a retry after a crash, whose point 1 ends its process again
    store = LocalStore(tmp_path / "store")
    crashed_before(store)
    task = crashing({1}).event(0, attempt=2)
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    # WHEN it runs
    result = in_child(lambda: process_event(task, WorkerDeps(store, Registry.default())), tmp_path / "answer.json")
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    # THEN the crash row, like the others, finished during the run
    assert (result["exit"], result["status"]) == (0, "success")
    written = rows(store)
    assert [r["error_type"] for r in written] == [None, "WORKER_CRASHED", None, None]
    assert all(before <= r["finished_at"] <= after for r in written), [r["finished_at"] for r in written]
    assert written[1]["duration_ms"] >= 0


# --- refused tasks count no points ----------------------------------------------------------------


def refused_without_config(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "config"}


def refused_experiment(event: dict[str, Any]) -> dict[str, Any]:
    return event | {"experiment": "not-installed"}


@pytest.mark.parametrize(
    ("refuse", "code"),
    [(refused_without_config, ErrorCode.MISSING_CONFIG), (refused_experiment, ErrorCode.EXPERIMENT_UNAVAILABLE)],
    ids=["missing-config", "unknown-experiment"],
)
def test_a_refused_task_counts_none_of_its_points_as_run(
    memory_store: MemoryStore, refuse: Callable[[dict[str, Any]], dict[str, Any]], code: ErrorCode
) -> None:
    # GIVEN a 3-point task the worker refuses before it runs any point
    event = refuse(synthetic(3).event(0))
    # WHEN it is handled
    result = process_event(event, WorkerDeps(memory_store, Registry.default()))
    # THEN its failure counts 3 points, none of them ok or failed, and vouches for no rows
    outcome = stored_outcome(memory_store, "failure")
    assert (outcome.error_code, outcome.points_total, outcome.points_ok, outcome.points_failed) == (code, 3, 0, 0)
    assert outcome.points_key is None
    assert (result["points_ok"], result["points_failed"]) == (0, 0)


def test_a_secret_that_is_unavailable_counts_none_of_the_points_as_run(
    memory_store: MemoryStore, ollama: FakeModelServer
) -> None:
    def unavailable(names: Any) -> dict[str, str]:
        raise SecretUnavailableError("the parameter store is down", field="secrets", value=list(names))

    task = ollama_shard(ollama.url).event(0)
    task["config"] |= {"api_key_required": True}
    process_event(task, WorkerDeps(memory_store, Registry.default(), secrets=unavailable))
    outcome = stored_outcome(memory_store, "failure")
    assert (outcome.points_total, outcome.points_ok, outcome.points_failed) == (4, 0, 0)
    assert ollama.requests == []


def test_a_worker_without_a_secret_store_fails_a_shard_that_needs_a_secret(
    memory_store: MemoryStore, ollama: FakeModelServer
) -> None:
    # GIVEN a worker given no secret store, and a shard whose experiment requires its `api_key`
    task = ollama_shard(ollama.url).event(0)
    task["config"] |= {"api_key_required": True}
    # WHEN it is handled
    process_event(task, WorkerDeps(memory_store, Registry.default()))
    # THEN the shard fails with SECRET_UNAVAILABLE, naming the missing store, before any call
    outcome = stored_outcome(memory_store, "failure")
    assert outcome.error_code == ErrorCode.SECRET_UNAVAILABLE
    assert "no secret store is configured" in (outcome.error_message or "")
    assert ollama.requests == []


def test_an_optional_secret_that_is_not_set_lets_the_shard_run(
    memory_store: MemoryStore, ollama: FakeModelServer
) -> None:
    # GIVEN a store in which the `api_key` secret is not set, and a shard that does not require it
    def not_set(names: Any) -> dict[str, str]:
        error = SecretUnavailableError("`api_key` is not set", field="secrets", value=list(names))
        error.not_set = True
        raise error

    task = ollama_shard(ollama.url).event(0)
    task["config"] |= {"api_key_required": False}
    # WHEN it is handled
    process_event(task, WorkerDeps(memory_store, Registry.default(), secrets=not_set))
    # THEN the shard runs its points (a keyless server), and succeeds
    outcome = stored_outcome(memory_store, "success")
    assert (outcome.points_total, outcome.points_ok + outcome.points_failed) == (4, 4)
    assert ollama.requests != []


def test_a_first_attempt_does_not_read_a_previous_outcome() -> None:
    # GIVEN a store that counts the reads of the shard's failure outcome
    failure_key = layout.outcome_key(RUN, "failure", 0)
    reads: list[str] = []

    class Counting(MemoryStore):
        def get(self, key: str) -> bytes | None:
            reads.append(key)
            return super().get(key)

    # WHEN attempt 1 of a shard runs, and (in another store) attempt 2
    process_event(synthetic(2).event(0, attempt=1), WorkerDeps(Counting(), Registry.default()))
    first = reads.count(failure_key)
    process_event(synthetic(2).event(0, attempt=2), WorkerDeps(Counting(), Registry.default()))
    # THEN only a retry looks for how its previous attempt ended (one GET per retried shard, none per shard)
    assert (first, reads.count(failure_key) - first) == (0, 1)


# --- started markers after a failure --------------------------------------------------------------


def markers(store: ObjectStore) -> list[str]:
    return sorted(store.list(layout.started_prefix(RUN, 0)))


def test_a_copy_whose_success_is_refused_leaves_no_started_marker() -> None:
    # GIVEN two more copies of a shard (at-least-once delivery) that start while this one runs: one
    # records its success first, the other is still running (its marker is in the store)
    points_prefix = layout.points_prefix(RUN)
    other = layout.started_key(RUN, 0, "c0ffee0000000000")

    class Racing(MemoryStore):
        def put_if_absent(self, key: str, data: bytes) -> bool:
            written = super().put_if_absent(key, data)
            if key.startswith(points_prefix) and not self.exists(other):
                super().put(other, b"{}")
                record_outcome(
                    self,
                    Outcome(
                        run_id=RUN,
                        shard_id=0,
                        status="success",
                        points_total=2,
                        points_ok=2,
                        started_at=T0,
                        finished_at=T0,
                        duration_ms=0.0,
                    ),
                )
            return written

    store = Racing()
    # WHEN this copy ends and its success is refused (the other's stands)
    result = process_event(synthetic(2).event(0), WorkerDeps(store, Registry.default()))
    # THEN the shard has succeeded, so nothing is left to isolate: every marker of it is gone
    assert result.get("duplicate") is True  # this copy's rows were discarded
    assert markers(store) == []


def test_a_failed_execution_removes_its_started_marker(memory_store: MemoryStore) -> None:
    # GIVEN a first delivery that fails (its experiment is not installed)
    process_event(refused_experiment(synthetic().event(0)), WorkerDeps(memory_store, Registry.default()))
    # THEN its failure is recorded and it leaves no marker behind to make the retry isolate
    assert stored_outcome(memory_store, "failure").error_code is ErrorCode.EXPERIMENT_UNAVAILABLE
    assert markers(memory_store) == []


def test_a_failed_redelivery_keeps_the_marker_of_the_execution_that_died(tmp_path: Path) -> None:
    # GIVEN a first execution that died at point 2, leaving its marker and no outcome
    store = LocalStore(tmp_path / "store")
    event = crashing({2}).event(0)
    died = in_child(lambda: process_event(event, WorkerDeps(store, Registry.default())), tmp_path / "first.json")
    assert died["exit"] == 70
    left = markers(store)
    assert len(left) == 1
    # WHEN the redelivery fails too (no time left for a point)
    again = in_child(
        lambda: process_event(event, WorkerDeps(store, Registry.default()), remaining_ms=lambda: 0.0),
        tmp_path / "second.json",
    )
    # THEN its failure is recorded, its own marker is gone and the dead one's stays: the next
    # attempt isolates its points too, until the shard succeeds
    assert (again["exit"], again["status"], again["error_code"]) == (0, "failure", "TIME_BUDGET")
    assert markers(store) == left


# --- a retry that cannot read its previous outcome --------------------------------------------------


class UnreadableFailures(LocalStore):
    """A store whose next read of the shard's failure outcome fails (a network error)."""

    failing = False

    def get(self, key: str) -> bytes | None:
        if self.failing and key == layout.outcome_key(RUN, "failure", 0):
            self.failing = False
            raise StoreError(f"cannot read {key}")
        return super().get(key)


def test_a_retry_that_cannot_read_its_previous_outcome_isolates_its_points(tmp_path: Path) -> None:
    # GIVEN attempt 1 failed (no crash), and attempt 2 cannot read that outcome
    store = UnreadableFailures(tmp_path / "store")
    crashed_before(store, ErrorCode.TIME_BUDGET)
    store.failing = True
    task = crashing({1}).event(0, attempt=2)
    # WHEN attempt 2 runs, its point 1 ending its process again
    result = in_child(lambda: process_event(task, WorkerDeps(store, Registry.default())), tmp_path / "answer.json")
    # THEN, not knowing whether attempt 1 crashed, it isolated its points: the crash is a row
    assert (result["exit"], result["status"], result["points_ok"], result["points_failed"]) == (0, "success", 3, 1)
    assert [r["error_type"] for r in rows(store)] == [None, "WORKER_CRASHED", None, None]


def test_a_retry_after_a_failure_that_was_no_crash_runs_in_its_own_process(tmp_path: Path) -> None:
    # GIVEN attempt 1 of a shard whose point 1 ends its process, failed without running a point
    store = LocalStore(tmp_path / "store")
    process_event(crashing({1}).event(0), WorkerDeps(store, Registry.default()), remaining_ms=lambda: 0.0)
    assert stored_outcome(store, "failure").error_code is ErrorCode.TIME_BUDGET
    # WHEN attempt 2 runs
    task = crashing({1}).event(0, attempt=2)
    result = in_child(lambda: process_event(task, WorkerDeps(store, Registry.default())), tmp_path / "answer.json")
    # THEN it did not isolate its points (nothing had crashed): point 1 ended the worker's process
    assert result["exit"] == 70


@pytest.mark.parametrize("flag", [None, False, True])
def test_the_worker_tallies_per_series_only_when_the_task_asks(flag: bool | None) -> None:
    # GIVEN a task as every run sends it (no `tally_series`: also a task in flight from before the flag),
    # one that says false, and one of a search's round (true)
    event = synthetic(points=4).event(0)
    if flag is not None:
        event["tally_series"] = flag
    store = MemoryStore()
    # WHEN the worker runs it
    answer = process_event(event, WorkerDeps(store=store, registry=Registry.default()))
    # THEN its outcome carries the per-series sums only when asked, and its rows either way
    assert (answer["status"], answer["points_ok"]) == ("success", 4)
    outcome = stored_outcome(store, "success")
    assert len(rows(store)) == 4
    if flag:
        assert outcome.series is not None
        assert {name: (t.ok, t.failed) for name, t in outcome.series.items()} == {"grid": (4, 0)}
    else:
        assert outcome.series is None
