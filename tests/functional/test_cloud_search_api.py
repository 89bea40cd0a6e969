"""A search started, watched and retried through the stage's API on the moto stage (issue 25, item 3).

The path runs whole: POST /runs with a `search:` block records the search and invokes the search
function (captured, as every async invoke is; `Stage.step_search` does what that function does:
`rounds.advance`), its first round's shards are delivered to the worker, each outcome that lands
is announced as the bucket's notification would announce it (`trigger.on_outcomes`), and so on
until the search is done. `ask_round` is watched throughout, to check what the optimiser is told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from sweep_contracts import layout
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.search import SEARCH_STEP_KIND, round_run_id
from sweep_orchestrator import deps
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.search import rounds as rounds_module
from sweep_orchestrator.search.journal import TrialRecord
from sweep_orchestrator.search.totals import OutcomeTotals
from sweep_orchestrator.search.trigger import on_outcomes
from tests.cloud import SEARCH, WORKER, Stage, make_stage

ID = "api-search"
BODY: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": ID,
    "config": {"noise": 0.0},
    "search": {
        "space": {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}},
        "seed": 3,
        "budget": {"trials": 12},
        "batch": 4,
        "average_over": {"seed": [0, 1]},
    },
}


@pytest.fixture
def stage() -> Iterator[Stage]:
    with mock_aws():
        yield make_stage()


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[list[TrialRecord]]:
    """Every `ask_round` call's finished trials: what the optimiser was told, ask by ask."""
    calls: list[list[TrialRecord]] = []
    real = rounds_module.ask_round

    def spy(search: Any, trials: list[TrialRecord], number: int) -> Any:
        calls.append(list(trials))
        return real(search, trials, number)

    monkeypatch.setattr(rounds_module, "ask_round", spy)
    return calls


def announce(stage: Stage, run_id: str) -> str | None:
    """The bucket's notification of `run_id`'s outcomes, as the trigger takes it; the step's kind."""
    runtime = deps.current().runtime
    steps = on_outcomes(runtime, stage.object_keys(layout.outcomes_prefix(run_id)), OutcomeTotals(stage.store))
    return steps[ID].kind if ID in steps else None


def settle(stage: Stage, limit: int = 200) -> int:
    """Deliver every captured invoke — steps to the search function, shards to the worker (each
    outcome announced as it lands) — until none is left; answers how many shards ran."""
    shards = 0
    for _ in range(limit):
        with stage.invokes.lock:
            calls, stage.invokes.calls = stage.invokes.calls, []
        if not calls:
            return shards
        for function, payload in calls:
            if function == SEARCH:
                stage.step_search(payload)
            else:
                assert function == WORKER
                stage.deliver(payload)
                shards += 1
                announce(stage, payload["run_id"])
    raise AssertionError(f"still invoking after {limit} rounds of delivery")


def told_once(calls: list[list[TrialRecord]]) -> dict[int, set[str]]:
    """Per trial, the states it was told with over every ask."""
    states: dict[int, set[str]] = {}
    for trials in calls:
        for trial in trials:
            states.setdefault(trial.number, set()).add(trial.state)
    return states


def test_a_search_posted_to_the_stage_runs_its_rounds_to_done(stage: Stage, told: list[list[TrialRecord]]) -> None:
    # WHEN a search is posted
    status, answer = stage.call("POST", "/runs", BODY)
    # THEN it is accepted with its id, its first round's run and the plan, and its record is written
    assert (status, answer["kind"], answer["search_id"], answer["first_round"]) == (202, "search", ID, f"{ID}-r000")
    assert (answer["existing"], answer["stepped"], answer["plan"]["rounds"]) == (False, True, 3)
    assert answer["plan"]["trials_per_round"] == [4, 4, 4]
    assert answer["plan"]["worst_case_cost_usd"] == pytest.approx(
        sum(r["cost_usd"] for r in answer["plan"]["round_plans"])
    )
    assert answer["plan"]["worst_case_cost_usd"] > 0
    assert stage.store.exists(layout.search_key(ID))
    # AND the orchestrator asked no trial itself: it invoked the search function, once, with the step event
    assert stage.invokes.calls == [(SEARCH, {"kind": SEARCH_STEP_KIND, "search_id": ID})]
    # WHEN the step, the shards and the outcomes' notifications run their course
    assert settle(stage) == 12
    # THEN every round ran once, and the optimiser was told each trial once, with one state
    assert [stage.store.exists(layout.manifest_key(round_run_id(ID, n))) for n in range(4)] == [True] * 3 + [False]
    assert sorted(told_once(told)) == list(range(8))
    assert all(states == {"complete"} for states in told_once(told).values())
    # AND its status says done, with the best so far and no budget left
    status, answer = stage.call("GET", f"/runs/{ID}")
    assert (status, answer["kind"], answer["state"], answer["rounds_done"]) == (200, "search", "done", 3)
    assert (answer["budget"]["trials_left"], answer["current_round"]) == (0, 2)
    assert answer["best"]["state"] == "complete"
    values = [t["value"] for r in answer["rounds"] for t in r["trials"]]
    assert answer["best"]["value"] == max(values)


def test_the_same_search_posted_twice_starts_one_search(stage: Stage) -> None:
    # GIVEN a search posted once, its first round started
    stage.call("POST", "/runs", BODY)
    settle_steps(stage)
    first = stage.invokes.take(WORKER)
    # WHEN the same body is posted again
    status, answer = stage.call("POST", "/runs", BODY)
    # THEN it is answered with the existing search; the step it sends starts nothing more
    assert (status, answer["existing"], answer["search_id"]) == (202, True, ID)
    settle_steps(stage)
    assert (len(first), stage.invokes.take(WORKER)) == (4, [])
    assert stage.object_keys("searches/") == [layout.search_key(ID)]


def settle_steps(stage: Stage) -> None:
    for payload in stage.invokes.take(SEARCH):
        stage.step_search(payload)


def test_another_search_under_the_same_id_is_a_409_naming_the_difference(stage: Stage) -> None:
    stage.call("POST", "/runs", BODY)
    other = {**BODY, "search": {**BODY["search"], "seed": 4}}
    status, answer = stage.call("POST", "/runs", other)
    assert (status, answer["code"], answer["field"], answer["value"]) == (409, "RUN_CONFLICT", "run_id", ID)
    assert "`search.seed`: 3 → 4" in answer["message"]
    assert stage.invokes.take(SEARCH) == [{"kind": SEARCH_STEP_KIND, "search_id": ID}]  # the first post's only


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"budget": {"trials": 0}}, 400, "search.budget.trials"),
        ({"average_over": {"x2": [1, 2]}}, 400, "search.average_over.x2"),
        ({"objective": {"metric": "nope"}}, 400, "search.objective.metric"),
        ({"budget": {"trials": 12, "cost_usd": 1e-9}}, 400, "search.budget.cost_usd"),
        ({"budget": {"trials": 10_000}, "batch": 4}, 400, "search"),  # the model validator names the block
        ({"budget": {"trials": 4000}, "batch": 1000}, 413, "search.budget.trials"),
        # the search function ships Optuna without cmaes and torch: refused before anything is written
        ({"sampler": "cmaes"}, 400, "search.sampler"),
        ({"sampler": "gp"}, 400, "search.sampler"),
    ],
    ids=[
        "no-trials",
        "not-nuisance",
        "unknown-metric",
        "cost-below-first-round",
        "too-many-rounds",
        "over-max-points",
        "cmaes-not-shipped",
        "gp-not-shipped",
    ],
)
def test_a_bad_search_body_is_a_4xx_naming_the_field_and_leaves_nothing(
    stage: Stage, change: dict[str, Any], status: int, field: str
) -> None:
    stage.put_setting("max_points", "1000")
    body = {**BODY, "search": {**BODY["search"], **change}}
    got, answer = stage.call("POST", "/runs", body)
    assert (got, answer["field"]) == (status, field), answer
    assert answer["hint"]
    assert (stage.object_keys(), stage.invokes.calls) == ([], [])


def test_a_stage_without_a_search_function_refuses_a_search_and_writes_nothing(stage: Stage) -> None:
    current = deps.current()
    deps.use(type(current)(current.runtime, current.dispatcher, "test", current.parameter_prefix, 300, None))
    status, answer = stage.call("POST", "/runs", BODY)
    assert (status, answer["code"], answer["field"]) == (500, "MISCONFIGURED", "SWEEP_SEARCH_FUNCTION")
    assert "pulumi up" in answer["hint"]
    assert stage.object_keys() == []


def test_status_of_a_search_mid_round_and_between_rounds(stage: Stage) -> None:
    stage.call("POST", "/runs", BODY)
    # GIVEN a search whose step has not run yet
    _, answer = stage.call("GET", f"/runs/{ID}")
    assert (answer["state"], answer["current_round"], answer["rounds"]) == ("starting", None, [])
    # WHEN its first round has three of four shards done
    settle_steps(stage)
    tasks = stage.invokes.take(WORKER)
    for task in tasks[:3]:
        stage.deliver(task)
    _, answer = stage.call("GET", f"/runs/{ID}")
    # THEN it is running, round 1 of 3, no trial told, no best yet, 8 trials left to start
    assert (answer["state"], answer["reason"], answer["rounds_done"]) == ("running", "round 1 of 3 is running", 0)
    assert answer["rounds"][0]["status"]["shards_success"] == 3
    assert [t["state"] for t in answer["rounds"][0]["trials"]] == ["running"] * 4
    assert (answer["best"], answer["budget"]["trials_left"]) == (None, 8)
    # WHEN the last lands but its notification is not yet handled
    stage.deliver(tasks[3])
    _, answer = stage.call("GET", f"/runs/{ID}")
    # THEN the round is done, its trials have values, and the next round is due
    assert (answer["state"], answer["rounds_done"], answer["best"]["round"]) == ("running", 1, 0)
    assert answer["reason"] == "round 1 is done; round 2 starts at the search's next step"


def crash_mid_round(stage: Stage) -> list[dict[str, Any]]:
    """Round 2 running: shards 0 and 3 done, shard 1's worker crashed (the reconciler recorded it),
    shard 2 still running. Answers round 2's tasks."""
    stage.call("POST", "/runs", BODY)
    settle_steps(stage)
    for task in stage.invokes.take(WORKER):
        stage.deliver(task)
    assert announce(stage, round_run_id(ID, 0)) == "started"
    second = stage.invokes.take(WORKER)
    for task in (second[0], second[3]):
        stage.deliver(task)
    crashed = ShardFailure(1, 1, 2, ErrorCode.WORKER_CRASHED, "the worker's process died")
    record_failures(stage.store, round_run_id(ID, 1), [crashed], datetime.now(UTC))
    assert announce(stage, round_run_id(ID, 1)) == "waiting"
    return second


def test_retry_after_a_worker_crash_mid_round_reruns_only_that_trial_told_once(
    stage: Stage, told: list[list[TrialRecord]]
) -> None:
    second = crash_mid_round(stage)
    # WHEN the search is retried
    status, answer = stage.call("POST", f"/runs/{ID}/retry")
    # THEN only round 2's failed shard is sent again, at its next attempt, and the search is stepped
    assert (status, answer["kind"], answer["round"], answer["round_run_id"]) == (202, "search", 1, f"{ID}-r001")
    assert (answer["retried"]["failed"], answer["retried"]["dispatched"], answer["stepped"]) == (1, 1, True)
    (rerun,) = stage.invokes.take(WORKER)
    assert (rerun["run_id"], rerun["shard_id"], rerun["attempt"]) == (round_run_id(ID, 1), 1, 2)
    settle_steps(stage)  # the step finds round 2 running
    # WHEN the still-running shard lands first and its notification arrives
    stage.deliver(second[2])
    # THEN the round waits for the retried shard: no round 3 was asked with trial 5 failed
    assert announce(stage, round_run_id(ID, 1)) == "waiting"
    # WHEN the retried shard lands
    stage.deliver(rerun)
    assert announce(stage, round_run_id(ID, 1)) == "started"
    settle(stage)
    # THEN every trial of round 2 completed, and each trial was told to the optimiser once, as complete
    _, answer = stage.call("GET", f"/runs/{ID}")
    assert [t["state"] for t in answer["rounds"][1]["trials"]] == ["complete"] * 4
    assert answer["state"] == "done"
    assert {n: s for n, s in told_once(told).items()} == {n: {"complete"} for n in range(8)}


def test_retry_when_the_round_is_complete_with_a_failed_trial_reruns_nothing_and_steps(
    stage: Stage, told: list[list[TrialRecord]]
) -> None:
    # GIVEN round 2 complete — its crashed shard's failure was its last outcome — whose
    # notification was lost, so round 3 has not started
    second = crash_mid_round(stage)
    stage.deliver(second[2])
    # WHEN the search is retried
    status, answer = stage.call("POST", f"/runs/{ID}/retry")
    # THEN nothing is sent again (the round is complete: its trials are told as they ended) ...
    assert (status, answer["round"], answer["retried"], answer["stepped"]) == (202, 1, None, True)
    assert "is complete" in answer["reason"]
    assert stage.invokes.take(WORKER) == []
    # ... and the step starts round 3, asked with trial 5 told as failed, once
    settle_steps(stage)
    assert sorted(t["run_id"] for t in stage.invokes.take(WORKER)) == [round_run_id(ID, 2)] * 4
    assert told_once(told)[5] == {"fail"}


def test_retry_of_a_search_whose_first_step_was_lost_starts_its_first_round(stage: Stage) -> None:
    stage.call("POST", "/runs", BODY)
    stage.invokes.take(SEARCH)  # the step was lost
    status, answer = stage.call("POST", f"/runs/{ID}/retry")
    assert (status, answer["round"], answer["retried"], answer["stepped"]) == (202, None, None, True)
    settle_steps(stage)
    assert {t["run_id"] for t in stage.invokes.take(WORKER)} == {round_run_id(ID, 0)}


def test_a_run_id_that_is_neither_is_still_404(stage: Stage) -> None:
    assert stage.call("GET", "/runs/no-such-thing")[0] == 404
    assert stage.call("POST", "/runs/no-such-thing/retry")[0] == 404


def test_a_round_that_completes_while_its_retry_begins_is_put_back_as_it_was(
    stage: Stage, told: list[list[TrialRecord]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN round 2 with a crashed shard, whose last running shard lands just as the retry takes
    # the failure out (a step may have read the round done, failure and all, a moment before)
    second = crash_mid_round(stage)
    failure = stage.object_keys(layout.outcomes_prefix(round_run_id(ID, 1)) + "status=failure/")
    real_delete = stage.store.delete

    def delete_then_land(key: str) -> None:
        real_delete(key)
        monkeypatch.setattr(stage.store, "delete", real_delete)
        stage.deliver(second[2])

    monkeypatch.setattr(stage.store, "delete", delete_then_land)
    # WHEN the search is retried
    _, answer = stage.call("POST", f"/runs/{ID}/retry")
    # THEN nothing is sent again, the failure is back as it was, and the round goes on as complete
    assert (answer["retried"], "completed while the retry began" in answer["reason"]) == (None, True)
    assert stage.invokes.take(WORKER) == []
    assert stage.object_keys(layout.outcomes_prefix(round_run_id(ID, 1)) + "status=failure/") == failure
    settle_steps(stage)
    assert {t["run_id"] for t in stage.invokes.take(WORKER)} == {round_run_id(ID, 2)}
    assert told_once(told)[5] == {"fail"}


def test_a_warm_orchestrator_polling_a_search_reads_no_outcome_twice(stage: Stage) -> None:
    # GIVEN a search run to done, its status asked once
    stage.call("POST", "/runs", BODY)
    settle(stage)
    stage.call("GET", f"/runs/{ID}")
    reads: list[str] = []

    def count(request: Any, **_: Any) -> None:
        if request.method == "GET" and "/outcomes/" in request.url and "list-type" not in request.url:
            reads.append(request.url)

    stage.s3.meta.events.register("before-send.s3", count)
    # WHEN it is asked again THEN its rounds' outcomes come from what the first poll read
    _, answer = stage.call("GET", f"/runs/{ID}")
    assert (answer["state"], reads) == ("done", [])


def test_a_search_cannot_take_the_id_of_a_run(stage: Stage) -> None:
    # GIVEN a run named as the search would be
    run = {"experiment": "synthetic", "run_id": ID, "config": {"noise": 0.0}, "grid": {"x": [0.1]}}
    assert stage.call("POST", "/runs", run)[0] == 202
    stage.invokes.take()
    # WHEN the search is posted THEN it is a 409 naming the id, and nothing of a search is written
    status, answer = stage.call("POST", "/runs", BODY)
    assert (status, answer["code"], answer["field"], answer["value"]) == (409, "RUN_CONFLICT", "run_id", ID)
    assert (stage.object_keys("searches/"), stage.invokes.calls) == ([], [])
