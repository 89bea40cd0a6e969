"""The worker after an attempt that died with its process (the shared code: local pool and Lambda):
it runs the points in child processes, so the point that ends its process becomes an error row
and the rest of the shard runs."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq

from sweep_contracts import layout
from sweep_contracts.experiments import Registry
from sweep_contracts.outcomes import ErrorCode, Outcome, record_outcome
from sweep_contracts.storage import LocalStore
from sweep_contracts.tasks import TaskFactory
from sweep_worker.isolate import run_isolated
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import tasks_for, vouched_points_key

RUN = "crash-run"
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def crashing_shard(crash_at: set[int], size: int = 6, config: dict[str, Any] | None = None) -> TaskFactory:
    points = [{"x": i, "crash": i in crash_at} for i in range(size)]
    payload = {"experiment": "synthetic", "config": config or {"y": 0.0}, "points": points}
    return tasks_for(payload, RUN, settings={"time_budget_margin_ms": 0})


def in_child(work: Callable[[], dict[str, Any]], answer: Path) -> dict[str, Any]:
    """Run `work` in a forked process, as a pool worker or a Lambda would: should a crashing point
    take the process down, that fails the test instead of ending pytest."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            answer.write_text(json.dumps(work()))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the worker's process died"
    loaded: dict[str, Any] = json.loads(answer.read_text())
    return loaded


def previous_attempt(store: LocalStore, code: ErrorCode, size: int = 6) -> None:
    record_outcome(
        store,
        Outcome.failure(
            run_id=RUN, shard_id=0, code=code, message="…", points_total=size, started_at=NOW, finished_at=NOW
        ),
    )


def rows(store: LocalStore) -> list[dict[str, Any]]:
    key = vouched_points_key(store, RUN, 0)  # the rows the shard's outcome vouches for
    assert key is not None
    data = store.get(key) or b""
    return list(pq.read_table(io.BytesIO(data)).to_pylist())


def test_a_retry_after_a_crash_makes_each_crashing_point_an_error_row(tmp_path: Path) -> None:
    # GIVEN a shard whose points 0, 2 and 5 end their process, and whose attempt 1 died that way
    store = LocalStore(tmp_path / "store")
    previous_attempt(store, ErrorCode.WORKER_CRASHED)
    # WHEN attempt 2 runs
    task = crashing_shard({0, 2, 5}).event(0, attempt=2)
    result = in_child(lambda: process_event(task, WorkerDeps(store, Registry.default())), tmp_path / "answer.json")
    # THEN the shard succeeds: three WORKER_CRASHED error rows, the other points evaluated once each
    assert (result["status"], result["attempt"], result["points_ok"], result["points_failed"]) == ("success", 2, 3, 3)
    written = rows(store)
    assert [(r["point_index"], r["status"], r["error_type"]) for r in written] == [
        (0, "error", "WORKER_CRASHED"),
        (1, "ok", None),
        (2, "error", "WORKER_CRASHED"),
        (3, "ok", None),
        (4, "ok", None),
        (5, "error", "WORKER_CRASHED"),
    ]
    assert "ended its process (exit code 70)" in written[0]["error_message"]
    assert written[2]["config_json"] == '{"crash":true,"seed":0,"x":2,"y":0.0}'
    assert list(store.list(layout.outcomes_prefix(RUN))) == [layout.outcome_key(RUN, "success", 0)]


def test_an_isolated_point_past_the_budget_stops_the_shard_on_time(tmp_path: Path) -> None:
    # GIVEN a retry after a crash, whose points sleep 10 s each, with 0.3 s of budget
    sleep_s, budget_s = 10.0, 0.3
    store = LocalStore(tmp_path / "store")
    previous_attempt(store, ErrorCode.WORKER_CRASHED)
    task = crashing_shard(set(), config={"y": 0.0, "sleep_ms": sleep_s * 1000}).event(0, attempt=2)
    started = time.monotonic()
    # WHEN it runs
    process_event(
        task, WorkerDeps(store, Registry.default()), remaining_ms=lambda: (started + budget_s - time.monotonic()) * 1000
    )
    # THEN the child's own alarm interrupted the point ("interrupted": not "ended", which is the
    # parent killing it `isolate.GRACE_S` past the budget) and the shard stopped there, with
    # TIME_BUDGET: no point ran, none after it started
    data = store.get(layout.outcome_key(RUN, "failure", 0))
    outcome = Outcome.from_parquet(data or b"", RUN)
    assert (outcome.error_code, outcome.attempt) == (ErrorCode.TIME_BUDGET, 2)
    assert (outcome.error_message or "").startswith("point 0 ran past the time budget and was interrupted.")
    assert (outcome.points_ok, outcome.points_failed, outcome.points_not_run) == (0, 0, 6)
    # AND it ended before its first point could have: no clock of this machine's load, the
    # point's own length (a stop that waited for points would take 6 x 10 s)
    assert time.monotonic() - started < sleep_s


def test_a_point_that_calls_sys_exit_is_isolated_like_one_that_ends_its_process() -> None:
    # GIVEN points 0..3 evaluated in isolated children, point 1 raising SystemExit(3) as sys.exit(3) does
    def run_from(start: int, emit: Callable[[Any], None]) -> str | None:
        for index in range(start, 4):
            if index == 1:
                raise SystemExit(3)
            emit(SimpleNamespace(point_index=index))  # a row: what the parent reads of it
        return None

    got: list[int] = []
    crashed: list[tuple[int, str]] = []
    # WHEN they run
    stopped = run_isolated(
        0,
        4,
        run_from,
        lambda row: got.append(row.point_index),
        lambda i, how, _: crashed.append((i, how)),
        lambda: 30.0,
    )
    # THEN point 1 is blamed, as a crash (not sweep's own failure), and the others ran
    assert (stopped, got, crashed) == (None, [0, 2, 3], [(1, "exit code 3")])
