"""A search's plan: its rounds, the trials, points and shards of each, and on a stage each round's
worst-case cost and makespan and their sums for the whole budget (`sweep plan`, `POST /runs`).

Every round is planned as its run would be (`rounds.round_plans`: probe trials in place of the
ones it will ask), so a round the stage would refuse (its caps, the size of its tasks) refuses
the search before anything is written."""

from __future__ import annotations

from pydantic import Field

from sweep_contracts.base import Frozen
from sweep_contracts.errors import RequestError
from sweep_contracts.search import SearchManifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.rounds import round_plans
from sweep_orchestrator.submit import run_estimate


class RoundPlan(Frozen):
    """One round: its trials, and the run they make."""

    round: int = Field(description="1-based.")
    trials: int
    points: int
    shards: int
    cost_usd: float | None = Field(default=None, description="Worst case on the stage; none off a stage.")
    makespan_s: float | None = None


class SearchPlan(Frozen):
    """Rounds, trials per round and the worst-case cost of the whole budget."""

    rounds: int
    trials: int
    batch: int
    trials_per_round: list[int]
    points_per_trial: int
    points_total: int
    worst_case_cost_usd: float | None = Field(default=None, description="Every round's estimate, summed.")
    worst_case_makespan_s: float | None = Field(default=None, description="The rounds one after another.")
    round_plans: list[RoundPlan]


def search_plan(search: SearchManifest, rt: Runtime, *, estimate: bool | None = None) -> SearchPlan:
    """The plan of `search` with the runtime's settings; `estimate` (default: on a stage) adds each
    round's worst-case cost and makespan."""
    spec, request = search.request.search, search.request
    estimate = rt.on_lambda if estimate is None else estimate
    secrets = rt.registry.get(request.experiment).secrets
    rounds = []
    for number, manifest in enumerate(round_plans(search, rt)):
        cost = run_estimate(manifest, manifest.effective_settings(), secrets) if estimate else None
        rounds.append(
            RoundPlan(
                round=number + 1,
                trials=spec.round_size(number),
                points=manifest.plan.points_total,
                shards=manifest.plan.shard_count,
                cost_usd=cost.cost_usd if cost else None,
                makespan_s=cost.makespan_s if cost else None,
            )
        )
    return SearchPlan(
        rounds=spec.rounds,
        trials=spec.budget.trials,
        batch=spec.batch,
        trials_per_round=[r.trials for r in rounds],
        points_per_trial=request.trial_points,
        points_total=sum(r.points for r in rounds),
        worst_case_cost_usd=sum(r.cost_usd or 0.0 for r in rounds) if estimate else None,
        worst_case_makespan_s=sum(r.makespan_s or 0.0 for r in rounds) if estimate else None,
        round_plans=rounds,
    )


def check_cost_budget(search: SearchManifest, plan: SearchPlan) -> None:
    """A `budget.cost_usd` below the first round's worst-case cost would start no round at all:
    refused at submit, naming what the first round needs."""
    budget = search.request.search.budget.cost_usd
    first = plan.round_plans[0].cost_usd if plan.round_plans else None
    if budget is None or first is None or first <= budget:
        return
    raise RequestError(
        f"`search.budget.cost_usd`: ${budget:g} does not cover the first round, whose worst-case cost on this "
        f"stage is ${first:.4f}; the search would start no round.",
        field="search.budget.cost_usd",
        value=budget,
        limit=round(first, 4),
        hint=f"raise `search.budget.cost_usd` to at least {first:.4f}, or lower `search.batch` or the points per "
        "trial (`search.average_over`, `repeats`); give `expected_point_s` for an estimate below the worst case.",
    )
