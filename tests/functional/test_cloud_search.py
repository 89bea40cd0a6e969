"""A search's rounds on the moto stage (issue 25, item 4), advanced by the outcome trigger
(`sweep_orchestrator.search.trigger`): the next round starts when the last outcome of the current
one lands, a duplicate trigger starts nothing more, and a worker that crashes mid-round leaves its
trial failed once the reconciler records the shard's failure.

The trigger is called as the S3 event on `outcomes/` would call it, with the stage's reader of a
round (`OutcomeTotals`: the per-series tallies each outcome carries, no Parquet points); a
pyarrow reader of the points each outcome vouches for checks that both give the same trials."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from sweep_contracts import layout
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.search import SearchStepEvent, round_run_id
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator import handler
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search import handler as search_handler
from sweep_orchestrator.search.journal import PointRow, RowsOf, finished_trials, read_rounds
from sweep_orchestrator.search.optimiser import ask_round
from sweep_orchestrator.search.rounds import advance, start_search
from sweep_orchestrator.search.totals import OutcomeTotals
from sweep_orchestrator.search.trigger import event_keys, on_outcomes
from sweep_orchestrator.status import read_outcomes
from sweep_orchestrator.submit import submit_run
from tests.cloud import BUCKET, WORKER, LambdaContext, Stage, make_stage

SEARCH = {
    "experiment": "synthetic",
    "run_id": "cloud-search",
    "config": {"noise": 0.0},
    "search": {
        "space": {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}},
        "seed": 3,
        "budget": {"trials": 12},
        "batch": 4,
        "average_over": {"seed": [0, 1]},
    },
}


def s3_rows(store: ObjectStore) -> RowsOf:
    """The points each outcome vouches for, read with pyarrow (the orchestrator has none)."""

    def rows_of(run_id: str, metric: str) -> list[PointRow]:
        found = []
        for outcome in read_outcomes(store, run_id).values():
            key = outcome.points_key
            data = store.get(key) if key else None
            for row in pq.read_table(io.BytesIO(data)).to_pylist() if data else ():
                value = dict(row["metrics"]).get(metric)
                found.append(PointRow(row["series"], row["status"] == "ok", value))
        return found

    return rows_of


def s3_event(*keys: str, bucket: str = BUCKET) -> dict[str, Any]:
    """An S3 event notification (ObjectCreated) naming `keys`, URL-encoded as S3 sends them."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {"eventSource": "aws:s3", "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(k, safe="/")}}}
            for k in keys
        ]
    }


@pytest.fixture
def stage() -> Iterator[Stage]:
    with mock_aws():
        yield make_stage()


def runtime(stage: Stage) -> Runtime:
    return Runtime(store=stage.store, dispatcher=stage.dispatcher, settings=stage.settings)


def trigger(stage: Stage, run_id: str) -> str:
    """Every outcome of `run_id` announced, as S3 would; answers what the trigger did."""
    keys = event_keys(s3_event(*stage.object_keys(layout.outcomes_prefix(run_id))))
    steps = on_outcomes(runtime(stage), keys, OutcomeTotals(stage.store))
    return steps["cloud-search"].kind


def deliver(stage: Stage, tasks: list[dict[str, Any]]) -> None:
    for task in tasks:
        stage.deliver(task)


def test_rounds_advance_on_the_last_outcome_once_under_duplicate_triggers(stage: Stage) -> None:
    rt = runtime(stage)
    # GIVEN a search submitted to the stage, its first round handed to the worker
    search, existing = start_search(SEARCH, rt)
    assert (existing, advance(rt, search, OutcomeTotals(stage.store)).kind) == (False, "started")
    first = stage.invokes.take(WORKER)
    assert [t["run_id"] for t in first] == [round_run_id("cloud-search", 0)] * 4
    # every task carries its trial's full config: the grid of its trial, nothing to look up
    assert all(len(t["spec"]["grids"]) == 4 for t in first)
    # WHEN three of its four outcomes land, each announced
    deliver(stage, first[:3])
    # THEN the trigger waits
    assert trigger(stage, round_run_id("cloud-search", 0)) == "waiting"
    assert stage.invokes.take(WORKER) == []
    # WHEN the last lands and its event arrives twice (at-least-once), and a third trigger races
    deliver(stage, first[3:])
    kinds = [trigger(stage, round_run_id("cloud-search", 0)) for _ in range(3)]
    # THEN round 2 started once: one manifest, its four shards handed over once
    assert kinds == ["started", "waiting", "waiting"]
    second = stage.invokes.take(WORKER)
    assert sorted(t["shard_id"] for t in second) == [0, 1, 2, 3]
    assert {t["run_id"] for t in second} == {round_run_id("cloud-search", 1)}
    assert not stage.store.exists(layout.manifest_key(round_run_id("cloud-search", 2)))
    # AND a trigger that read the journal before round 2's manifest was written (a true race)
    # asks the same trials and is answered with the existing run (create-if-absent): nothing more runs
    rounds = read_rounds(stage.store, search, OutcomeTotals(stage.store))[:1]
    late = search.request.round_request("cloud-search", 1, ask_round(search, finished_trials(rounds), 1))
    result, _ = submit_run(late.model_dump(mode="json", exclude_none=True), rt)
    assert (result.existing, result.run_id, stage.invokes.take(WORKER)) == (True, round_run_id("cloud-search", 1), [])


def test_a_worker_crash_mid_round_fails_its_trial_and_the_search_goes_on(stage: Stage) -> None:
    rt = runtime(stage)
    search, _ = start_search(SEARCH, rt)
    advance(rt, search, OutcomeTotals(stage.store))
    deliver(stage, stage.invokes.take(WORKER))
    assert trigger(stage, round_run_id("cloud-search", 0)) == "started"
    second = stage.invokes.take(WORKER)
    # GIVEN round 2, whose shard 1's worker crashed: Lambda gave up, no outcome, no rows
    deliver(stage, [t for t in second if t["shard_id"] != 1])
    assert trigger(stage, round_run_id("cloud-search", 1)) == "waiting"
    # WHEN the reconciler records its failure (the on-failure destination's record) and that lands
    crashed = ShardFailure(1, 1, 2, ErrorCode.WORKER_CRASHED, "the worker's process died")
    record_failures(stage.store, round_run_id("cloud-search", 1), [crashed], datetime.now(UTC))
    # THEN the next round starts, and its optimiser was told the crashed trial as failed
    assert trigger(stage, round_run_id("cloud-search", 1)) == "started"
    rounds = read_rounds(stage.store, search, OutcomeTotals(stage.store))
    assert [(t.number, t.state) for t in rounds[1].trials] == [(4, "complete"), (5, "fail"), (6, "complete"),
                                                               (7, "complete")]  # fmt: skip
    assert json.loads(json.dumps([t.state for t in rounds[2].trials])) == ["running"] * 4


def test_a_trials_value_from_the_outcomes_tallies_is_the_one_from_its_parquet_rows(stage: Stage) -> None:
    rt = runtime(stage)
    # GIVEN a round whose points vary within each trial (noise), one shard's points half failed
    search, _ = start_search({**SEARCH, "config": {"noise": 0.3}}, rt)
    advance(rt, search, OutcomeTotals(stage.store))
    tasks = stage.invokes.take(WORKER)
    deliver(stage, tasks)
    # WHEN the journal reads the round from the outcomes' tallies and from the Parquet rows
    by_tally = read_rounds(stage.store, search, OutcomeTotals(stage.store))[0].trials
    by_rows = read_rounds(stage.store, search, s3_rows(stage.store))[0].trials
    # THEN every trial has the same state, point count and mean objective
    assert [(t.number, t.state, t.points_ok) for t in by_tally] == [(t.number, t.state, t.points_ok) for t in by_rows]
    assert all(t.state == "complete" for t in by_rows)
    assert [t.value for t in by_tally] == pytest.approx([t.value for t in by_rows], rel=1e-12, abs=1e-15)
    assert len({t.value for t in by_rows}) == 4


def test_the_search_functions_handler_takes_the_s3_event_and_starts_the_next_round_once(stage: Stage) -> None:
    rt = runtime(stage)
    search, _ = start_search(SEARCH, rt)
    advance(rt, search, OutcomeTotals(stage.store))
    deliver(stage, stage.invokes.take(WORKER))
    event = s3_event(*stage.object_keys(layout.outcomes_prefix(round_run_id("cloud-search", 0))))
    # GIVEN the same outcomes announced by another bucket's notification  THEN nothing is advanced
    assert search_handler.handler(s3_event(*event_keys(event), bucket="other"), LambdaContext()) == {"searches": {}}
    # WHEN the round's outcomes are announced to the search function's entry point, twice
    answers = [search_handler.handler(event, LambdaContext()) for _ in range(2)]
    # THEN the first starts round 2 and the second finds it running: its four shards handed over once
    assert answers == [
        {"searches": {"cloud-search": {"step": "started", "round": 1}}},
        {"searches": {"cloud-search": {"step": "waiting", "round": 1}}},
    ]
    assert sorted(t["shard_id"] for t in stage.invokes.take(WORKER)) == [0, 1, 2, 3]


def test_the_orchestrator_refuses_an_s3_event_that_is_the_search_functions_now(stage: Stage) -> None:
    rt = runtime(stage)
    search, _ = start_search(SEARCH, rt)
    advance(rt, search, OutcomeTotals(stage.store))
    deliver(stage, stage.invokes.take(WORKER))
    event = s3_event(*stage.object_keys(layout.outcomes_prefix(round_run_id("cloud-search", 0))))
    # WHEN the round's outcomes are announced to the orchestrator (no longer the notification's target)
    answer = handler.handler(event, LambdaContext())
    # THEN it is refused as every event that is not an HTTP request is, and no round starts
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["field"] == "event"
    assert stage.invokes.take(WORKER) == []
    assert not stage.store.exists(layout.manifest_key(round_run_id("cloud-search", 1)))


def test_a_search_step_event_starts_the_first_round_once_under_duplicates(stage: Stage) -> None:
    # GIVEN a search recorded on the stage, as submit records it, and no round yet
    start_search(SEARCH, runtime(stage))
    step = SearchStepEvent(search_id="cloud-search").model_dump(mode="json")
    # WHEN its step event arrives three times (at-least-once, or a retry racing a submit)
    answers = [search_handler.handler(step, LambdaContext()) for _ in range(3)]
    # THEN round 1 started once, its four shards handed over once; the others found it running
    assert answers == [
        {"searches": {"cloud-search": {"step": "started", "round": 0}}},
        *[{"searches": {"cloud-search": {"step": "waiting", "round": 0}}}] * 2,
    ]
    tasks = stage.invokes.take(WORKER)
    assert [(t["run_id"], t["shard_id"]) for t in tasks] == [(round_run_id("cloud-search", 0), i) for i in range(4)]
    # AND once its outcomes are in, a step event starts round 2 exactly as the S3 notification would
    deliver(stage, tasks)
    assert search_handler.handler(step, LambdaContext()) == {
        "searches": {"cloud-search": {"step": "started", "round": 1}}
    }
    assert search_handler.handler(step, LambdaContext()) == {
        "searches": {"cloud-search": {"step": "waiting", "round": 1}}
    }
    assert len(stage.invokes.take(WORKER)) == 4


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (["search.step"], "the event is list, not a JSON object"),
        ({"kind": "search.step"}, "not a search step: 1 problems"),
        ({"kind": "search.step", "search_id": "../../x"}, "not a search step: 1 problems"),
        ({"kind": "search.step", "search_id": "cloud-search", "round": 3}, "not a search step: 1 problems"),
        (
            {"kind": "sweep.dispatch", "run_id": "cloud-search-r000"},
            "the search function takes S3 notifications of outcomes and `search.step` events only",
        ),
    ],
)
def test_an_event_that_is_no_step_is_refused_and_starts_nothing(stage: Stage, event: Any, reason: str) -> None:
    start_search(SEARCH, runtime(stage))
    assert search_handler.handler(event, LambdaContext()) == {"refused": True, "reason": reason}
    assert stage.invokes.take() == []
    assert not stage.store.exists(layout.manifest_key(round_run_id("cloud-search", 0)))


def test_a_step_for_a_search_the_store_does_not_have_does_nothing(stage: Stage) -> None:
    step = SearchStepEvent(search_id="no-such-search").model_dump(mode="json")
    answer = search_handler.handler(step, LambdaContext())
    assert answer == {
        "searches": {"no-such-search": {"step": "none", "reason": "no search `no-such-search` in the store"}}
    }
    assert (stage.invokes.take(), stage.object_keys()) == ([], [])


def test_a_step_that_fails_is_answered_as_json_and_logged(stage: Stage, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a search whose record in the store is not a search record (corrupt, or a forged object)
    stage.store.put(layout.search_key("cloud-search"), b'{"run_id": "cloud-search"}')
    step = SearchStepEvent(search_id="cloud-search").model_dump(mode="json")
    # WHEN a step names it  THEN the answer is a JSON error body, no traceback, and nothing starts
    answer = search_handler.handler(step, LambdaContext())
    error = answer["searches"]["cloud-search"]["error"]
    assert error["code"] == "INTERNAL"
    assert "Traceback" not in json.dumps(answer)
    assert stage.invokes.take() == []


def test_only_a_rounds_shards_tally_their_points_per_series(stage: Stage) -> None:
    rt = runtime(stage)
    # GIVEN a plain run and a search's first round, submitted to the stage
    plain = {"experiment": "synthetic", "run_id": "plain-1", "config": {"noise": 0.0}, "grid": {"x": [0.1, 0.2]}}
    submit_run(plain, rt)
    search, _ = start_search(SEARCH, rt)
    advance(rt, search, OutcomeTotals(stage.store))
    tasks = stage.invokes.take(WORKER)
    # THEN only the round's tasks ask for the tally, and its manifest says so
    assert {t["run_id"]: t.get("tally_series") for t in tasks} == {
        "plain-1": None,
        round_run_id("cloud-search", 0): True,
    }
    assert b"tally_series" not in (stage.store.get(layout.manifest_key("plain-1")) or b"")
    # WHEN the worker runs them  THEN the plain run's outcome has no per-series tally and each round outcome has one
    deliver(stage, tasks)
    assert [o.series for o in read_outcomes(stage.store, "plain-1").values()] == [None, None]
    round_outcomes = read_outcomes(stage.store, round_run_id("cloud-search", 0)).values()
    assert [sorted(o.series or {}) for o in round_outcomes] == [[f"t{n:05d}"] for n in range(4)]


def test_a_dispatch_task_that_drops_a_rounds_tally_flag_is_refused(stage: Stage) -> None:
    from sweep_contracts.manifest import RunManifest
    from sweep_orchestrator.dispatch_task import DispatchTask

    # GIVEN a round's manifest, and the dispatch task the fan-out tree would send for it
    rt = runtime(stage)
    search, _ = start_search(SEARCH, rt)
    advance(rt, search, OutcomeTotals(stage.store))
    stage.invokes.take()
    manifest = RunManifest.from_json(stage.store.get(layout.manifest_key(round_run_id("cloud-search", 0))) or b"")
    task = DispatchTask.for_shards(manifest.task_factory(), [(0, 2)]).model_dump(mode="json")
    assert task["tally_series"] is True
    # WHEN one without the flag reaches the orchestrator  THEN it is refused: the plan says the round tallies
    answer = handler.handler({**task, "tally_series": False}, LambdaContext())
    assert answer["refused"] is True
    assert stage.invokes.take() == []
    # AND the genuine one dispatches its shard with the flag
    handler.handler(task, LambdaContext())
    assert [t.get("tally_series") for t in stage.invokes.take(WORKER)] == [True]
