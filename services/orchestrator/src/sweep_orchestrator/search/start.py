"""POST /runs of a search: validate it as `sweep run` does, plan its rounds against the stage,
record it create-only, and ask the search function to step it (which starts its first round).

Everything that can refuse the search runs before its record is written: the request, the
objective and nuisance axes (`prepare_search`), every round as the stage would plan it (its caps
and task size), the cost budget against the first round's worst case, whether the stage has a
search function at all, and whether its id names a run already. The same request again answers
the existing search (and steps it again: a step is idempotent, and this one may repair a step that
was lost); other content under the same id is a 409 naming the differences."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sweep_contracts import environment, layout
from sweep_contracts.base import Frozen
from sweep_contracts.errors import ConfigurationError, RequestError, RunConflictError
from sweep_contracts.search import SearchObjective, round_run_id
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.optimiser import SAMPLER_MODULES, sampler_needs
from sweep_orchestrator.search.plan import SearchPlan, check_cost_budget, search_plan
from sweep_orchestrator.search.rounds import prepare_search, record_search
from sweep_orchestrator.search.steps import SearchSteps


class SearchSubmitResult(Frozen):
    """The answer to a search's submission."""

    kind: Literal["search"] = "search"
    search_id: str
    first_round: str = Field(description="The run id of its first round: `<search_id>-r000`.")
    existing: bool = Field(description="True when the run_id named a search with the same content already.")
    stepped: bool = Field(description="Whether the search function accepted the step that starts the next round.")
    step_error: str | None = Field(default=None, description="Why the step was not handed over, if it was not.")
    objective: SearchObjective
    plan: SearchPlan
    warnings: list[str] = Field(default_factory=list)


def no_search_function() -> ConfigurationError:
    return ConfigurationError(
        f"this stage has no search function: the orchestrator's `{environment.SEARCH_FUNCTION}` is not set, "
        "so nothing would step the search's rounds.",
        field=environment.SEARCH_FUNCTION,
        hint="deploy the stage again (`make deploy STACK=<stage>`, which runs `pulumi up`): the stack creates the "
        "search function and names it to the orchestrator. Runs without `search:` are not affected.",
    )


def submit_search(payload: Any, rt: Runtime, steps: SearchSteps | None) -> SearchSubmitResult:
    """Record the search (create-only) and step it; see the module's docstring."""
    search, _ = prepare_search(payload, rt)
    sampler = search.request.search.sampler
    # The search function cannot run them: its artifact is the orchestrator with the `search` extra,
    # Optuna alone (pulumi/src/sweep_infra/packaging.py; torch is also far over Lambda's 250 MB).
    # Locally they run where their packages are installed.
    if sampler in SAMPLER_MODULES:
        raise RequestError(
            f"the `{sampler}` sampler needs {sampler_needs(sampler)}, which the stage's search function does not ship.",
            field="search.sampler",
            value=sampler,
            hint="use `sampler: tpe` (or `random`, `grid`) on a stage, or run this search locally "
            f"with {sampler_needs(sampler)} installed (`sweep run FILE`).",
        )
    plan = search_plan(search, rt)
    check_cost_budget(search, plan)
    if steps is None:
        raise no_search_function()
    if rt.store.exists(layout.manifest_key(search.run_id)):
        raise RunConflictError(
            f"`{search.run_id}` names a run already: a search and a run share ids (GET /runs/{{id}} answers "
            "the run), so a search cannot take it.",
            field="run_id",
            value=search.run_id,
            hint="choose another `run_id` for the search, or leave it out to have one generated.",
        )
    recorded, existing = record_search(search, rt)
    error = steps.step(recorded.run_id)
    warnings = (
        []
        if error is None
        else [
            f"the search function could not be asked to step the search ({error}); "
            f"`sweep retry {recorded.run_id}` asks again"
        ]
    )
    return SearchSubmitResult(
        search_id=recorded.run_id,
        first_round=round_run_id(recorded.run_id, 0),
        existing=existing,
        stepped=error is None,
        step_error=error,
        objective=recorded.objective,
        plan=plan,
        warnings=warnings,
    )
