"""Advancing a search one step (issue 25): the objective it resolves, the budgets that end it, and
which outcome keys the stage's trigger reads as a round's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sweep_contracts import layout
from sweep_contracts.errors import RequestError
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.search import round_run_id
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.dispatch import RecordingDispatcher
from sweep_orchestrator.failures import ShardFailure, record_failures
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.journal import read_rounds
from sweep_orchestrator.search.rounds import advance, spent_usd, start_search
from sweep_orchestrator.search.trigger import event_keys, searches_of

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def payload(**search: Any) -> dict[str, Any]:
    block = {"space": {"x": {"uniform": [-1, 1]}}, "budget": {"trials": 8}, "batch": 4, **search}
    return {"experiment": "synthetic", "run_id": "rounds-1", "config": {"noise": 0.0}, "search": block}


def runtime(now: datetime = START) -> tuple[Runtime, RecordingDispatcher]:
    dispatcher = RecordingDispatcher()
    settings = SystemSettings.resolve({}, source="default")
    rt = Runtime(store=MemoryStore(), dispatcher=dispatcher, settings=lambda: settings, clock=lambda: now,
                 on_lambda=False)  # fmt: skip
    return rt, dispatcher


def no_rows(run_id: str, metric: str) -> list[Any]:
    return []


def test_the_objective_defaults_to_the_experiments_and_a_search_may_name_another() -> None:
    rt, _ = runtime()
    search, _ = start_search(payload(), rt)
    assert search.objective.model_dump() == {"metric": "value", "direction": "max"}
    rt, _ = runtime()
    search, _ = start_search(payload(objective={"metric": "distance", "direction": "min"}), rt)
    assert search.objective.model_dump() == {"metric": "distance", "direction": "min"}


def test_an_objective_the_experiment_does_not_record_is_refused_with_its_metrics() -> None:
    rt, _ = runtime()
    with pytest.raises(RequestError) as caught:
        start_search(payload(objective={"metric": "score"}), rt)
    assert (caught.value.field, caught.value.message, caught.value.hint) == (
        "search.objective.metric",
        "`search.objective.metric`: experiment `synthetic` records no metric `score`.",
        "use one of value, distance, checksum.",
    )
    assert list(rt.store.list("")) == []  # nothing written


def test_the_time_budget_ends_a_search_before_its_next_round() -> None:
    rt, dispatcher = runtime()
    search, _ = start_search(payload(budget={"trials": 8, "time_s": 60}), rt)
    later = Runtime(
        store=rt.store, dispatcher=dispatcher, settings=rt.settings, clock=lambda: START + timedelta(seconds=61)
    )
    step = advance(later, search, no_rows)
    assert (step.kind, step.reason, dispatcher.events) == ("done", "the time budget of 60 s is spent (61 s)", [])


def test_a_round_that_is_not_done_is_waited_for_and_the_first_round_starts_at_once() -> None:
    rt, dispatcher = runtime()
    search, existing = start_search(payload(), rt)
    first = advance(rt, search, no_rows)
    assert (existing, first.kind, first.round, len(dispatcher.events)) == (False, "started", 0, 4)
    again = advance(rt, search, no_rows)  # no shard has an outcome yet
    assert (again.kind, again.round, len(dispatcher.events)) == ("waiting", 0, 4)
    assert rt.store.exists(layout.search_key("rounds-1"))


def test_the_trigger_reads_outcome_keys_of_round_runs_only() -> None:
    event = {"Records": [{"s3": {"object": {"key": k}}} for k in (
        "outcomes/run_id=study-7-r002/status=success/shard=00003.parquet",
        "outcomes/run_id=study-7-r002/status=failure/shard=00001.parquet",
        "outcomes/run_id=plain-run/status=success/shard=00000.parquet",
        "points/run_id=other-r001/shard=00000.parquet",
    )]}  # fmt: skip
    assert searches_of(event_keys(event)) == ["study-7"]


def test_the_cost_budget_ends_a_search_on_a_stage_before_a_round_that_would_pass_it() -> None:
    # GIVEN a round's worst-case cost on a stage, measured on a search without a cost budget
    probe, _ = runtime()
    probe = replace(probe, on_lambda=True)
    search, _ = start_search(payload(), probe)
    advance(probe, search, no_rows)
    cost = spent_usd(probe, read_rounds(probe.store, search, no_rows))
    assert cost > 0
    # WHEN the budget covers one round and a half
    rt, dispatcher = runtime()
    rt = replace(rt, on_lambda=True)
    search, _ = start_search(payload(budget={"trials": 8, "cost_usd": cost * 1.5}), rt)
    # THEN the first round starts
    assert advance(rt, search, no_rows).kind == "started"
    assert len(dispatcher.events) == 4
    # AND once it is done, the second is refused: it would pass the budget
    failed = [ShardFailure(n, 1, 1, ErrorCode.WORKER_CRASHED, "died") for n in range(4)]
    record_failures(rt.store, round_run_id("rounds-1", 0), failed, START)
    step = advance(rt, search, no_rows)
    assert (step.kind, step.reason, len(dispatcher.events)) == (
        "done",
        f"round 2 would bring the worst-case cost to ${2 * cost:.4f}, over the budget of ${cost * 1.5:g}",
        4,
    )
    # AND a budget below one round starts none; off a stage (the local pool) it is not checked
    rt, dispatcher = runtime()
    search, _ = start_search(payload(budget={"trials": 8, "cost_usd": cost / 2}), replace(rt, on_lambda=True))
    assert (advance(replace(rt, on_lambda=True), search, no_rows).kind, dispatcher.events) == ("done", [])
    assert advance(rt, search, no_rows).kind == "started"
