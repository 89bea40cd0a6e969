"""A search's progress on a stage (GET /runs/{search_id}): its rounds and their state, each trial
with its objective once its round is done, the best so far, and the budget left — read from the
store as a step reads it (`journal.read_rounds` over the outcomes' per-series tallies: no Parquet,
no Optuna). Where the search stands:

- `starting`: it is recorded but no round has started (the search function has not stepped it yet;
  `sweep retry SEARCH` steps it again if the step was lost);
- `running`: its current round — the last one started — has shards without outcome, or is done
  and the next round is due (the step its last outcome triggers starts it);
- `done`: the last round is done and no round is left to start (trials, time or cost budget)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, JsonValue

from sweep_contracts.base import Frozen
from sweep_contracts.search import SearchManifest, round_run_id
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.journal import RoundRecord, TrialRecord, TrialState, best_trial, read_rounds
from sweep_orchestrator.search.rounds import round_plans, spent_usd
from sweep_orchestrator.search.totals import OutcomeTotals
from sweep_orchestrator.status import OutcomeReader, RunStatus
from sweep_orchestrator.submit import run_estimate

SearchState = Literal["starting", "running", "done"]


class SearchTrial(Frozen):
    """One trial: its parameters, its state and (complete) its mean objective over its points."""

    number: int
    round: int = Field(description="0-based, as in the round's run id `<search_id>-r<nnn>`.")
    params: dict[str, JsonValue]
    state: TrialState
    value: float | None = None
    points_ok: int = 0
    points_total: int = 0

    @classmethod
    def of(cls, trial: TrialRecord) -> SearchTrial:
        return cls(
            number=trial.number,
            round=trial.round,
            params=trial.params,
            state=trial.state,
            value=trial.value,
            points_ok=trial.points_ok,
            points_total=trial.points_total,
        )

    def record(self) -> TrialRecord:
        return TrialRecord(
            self.number, self.round, self.params, self.state, self.value, (), self.points_ok, self.points_total
        )


class SearchRound(Frozen):
    """One round's run: its progress and its trials."""

    number: int = Field(description="0-based.")
    run_id: str
    status: RunStatus
    trials: list[SearchTrial]

    def record(self) -> RoundRecord:
        return RoundRecord(self.number, self.run_id, self.status, [t.record() for t in self.trials])


class SearchBudgetLeft(Frozen):
    """What the search may still spend: trials always, cost and time when its budget names them."""

    trials: int
    trials_started: int
    trials_left: int
    cost_usd: float | None = None
    spent_usd: float | None = Field(default=None, description="The worst-case cost of the rounds started.")
    time_s: float | None = None
    elapsed_s: float


class SearchStatus(Frozen):
    """A search's progress, as `sweep status SEARCH --stage` shows it."""

    kind: Literal["search"] = "search"
    search_id: str
    state: SearchState
    reason: str
    rounds_done: int
    current_round: int | None = Field(description="The last round started (0-based); none before the first.")
    rounds: list[SearchRound]
    best: SearchTrial | None
    budget: SearchBudgetLeft
    search: SearchManifest = Field(description="The search's record, as it was submitted.")


def _where(
    search: SearchManifest, rounds: list[RoundRecord], budget: SearchBudgetLeft, next_cost: float | None
) -> tuple[SearchState, str]:
    spec = search.request.search
    if not rounds:
        return "starting", "no round has started yet: the search function starts the first"
    last = rounds[-1]
    if not last.done:
        return "running", f"round {last.number + 1} of {spec.rounds} is running"
    if len(rounds) >= spec.rounds:
        return "done", f"the budget of {spec.budget.trials} trials is spent"
    if spec.budget.time_s is not None and budget.elapsed_s >= spec.budget.time_s:
        return "done", f"the time budget of {spec.budget.time_s:g} s is spent"
    if (
        budget.cost_usd is not None
        and next_cost is not None
        and (budget.spent_usd or 0.0) + next_cost > budget.cost_usd
    ):
        return "done", (
            f"round {last.number + 2} would bring the worst-case cost to ${(budget.spent_usd or 0.0) + next_cost:.4f}, "
            f"over the budget of ${budget.cost_usd:g}"
        )
    return "running", f"round {last.number + 1} is done; round {last.number + 2} starts at the search's next step"


def _next_round_cost(rt: Runtime, search: SearchManifest, rounds: list[RoundRecord]) -> float | None:
    """The worst-case cost of the round a step would start next, when the cost budget may stop it
    (as `rounds.advance` decides: on a stage, with a cost budget, once the last round is done)."""
    spec = search.request.search
    if spec.budget.cost_usd is None or not rt.on_lambda or not rounds or not rounds[-1].done:
        return None
    if len(rounds) >= spec.rounds:
        return None
    return run_estimate(round_plans(search, rt)[len(rounds)]).cost_usd


def search_status(
    rt: Runtime, search: SearchManifest, *, now: datetime | None = None, outcomes: OutcomeReader | None = None
) -> SearchStatus:
    """The search's progress, read from the store; `outcomes` may remember the outcomes it read
    before (by key and version tag: one that was replaced is read again)."""
    spec = search.request.search
    rounds = read_rounds(rt.store, search, OutcomeTotals(rt.store, outcomes))
    trials = [t for r in rounds for t in r.trials]
    elapsed = ((now or rt.clock()) - search.created_at).total_seconds()
    budget = SearchBudgetLeft(
        trials=spec.budget.trials,
        trials_started=len(trials),
        trials_left=spec.budget.trials - len(trials),
        cost_usd=spec.budget.cost_usd,
        spent_usd=spent_usd(rt, rounds) if spec.budget.cost_usd is not None else None,
        time_s=spec.budget.time_s,
        elapsed_s=max(0.0, elapsed),
    )
    state, reason = _where(search, rounds, budget, _next_round_cost(rt, search, rounds))
    best = best_trial(trials, search.objective.direction)
    return SearchStatus(
        search_id=search.run_id,
        state=state,
        reason=reason,
        rounds_done=sum(r.done for r in rounds),
        current_round=rounds[-1].number if rounds else None,
        rounds=[
            SearchRound(
                number=r.number,
                run_id=round_run_id(search.run_id, r.number),
                status=r.status,
                trials=[SearchTrial.of(t) for t in r.trials],
            )
            for r in rounds
        ],
        best=SearchTrial.of(best) if best else None,
        budget=budget,
        search=search,
    )
