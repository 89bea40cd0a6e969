"""`sweep plan` of a search: its rounds, trials per round, points and shards per round, and with
`--stage` the worst-case cost of the whole budget there (every round's estimate, summed)."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from sweep_cli import render
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.plan import search_plan
from sweep_orchestrator.search.rounds import prepare_search


def plan_search(payload: Any, runtime: Runtime, stage: str | None, *, as_json: bool) -> None:
    search, _ = prepare_search(payload, runtime)  # raises, naming the field, where a run would be refused
    spec, request = search.request.search, search.request
    estimated = stage is not None
    plan = search_plan(search, runtime, estimate=estimated)
    rounds = [
        {
            "round": r.round,
            "trials": r.trials,
            "points": r.points,
            "shards": r.shards,
            **({"cost_usd": r.cost_usd, "makespan_s": r.makespan_s} if estimated else {}),
        }
        for r in plan.round_plans
    ]
    answer: dict[str, Any] = {
        "run_id": search.run_id,
        "sampler": spec.sampler,
        "seed": spec.seed,
        "objective": search.objective.model_dump(),
        "trials": spec.budget.trials,
        "batch": spec.batch,
        "points_per_trial": request.trial_points,
        "points_total": sum(r["points"] for r in rounds),
        "rounds": rounds,
    }
    if estimated:
        answer["worst_case_cost_usd"] = plan.worst_case_cost_usd
        answer["worst_case_makespan_s"] = plan.worst_case_makespan_s
    if as_json:
        print(json.dumps(answer, indent=2))
        return
    averaged = [*spec.average_over, *(["repeats"] if request.repeats > 1 else [])]
    render.out.print(
        render.shown(
            f"search of `{request.experiment}`: {spec.budget.trials} trials in {spec.rounds} rounds of up to "
            f"{spec.batch} ({spec.sampler}, seed {spec.seed}), {search.objective.direction} "
            f"{search.objective.metric}; each trial runs {request.trial_points} points"
            + (f" (averaged over {', '.join(averaged)})" if averaged else "")
        )
    )
    table = Table(title="Rounds", title_justify="left", header_style="bold")
    for name in ("round", "trials", "points", "shards", *(["worst-case USD", "makespan s"] if estimated else [])):
        table.add_column(name, justify="right")
    for row in rounds:
        cells = [str(row["round"]), str(row["trials"]), f"{row['points']:,}", f"{row['shards']:,}"]
        if estimated:
            cells += [f"{row['cost_usd']:,.4f}", f"{row['makespan_s']:,.0f}"]
        table.add_row(*cells)
    render.out.print(table)
    if estimated:
        render.out.print(
            render.shown(
                f"worst case on stage {stage}: ${answer['worst_case_cost_usd']:,.4f} for the whole budget, "
                f"{answer['worst_case_makespan_s']:,.0f} s of rounds one after another"
            )
        )
