"""Advancing a search one step, the same way locally and on a stage: read the journal, and if the
last round is done and budget is left, ask the next round's trials and submit them as a run.

A round's run id and content are functions of the search and the results before it, and its
manifest is created only if absent (`submit_manifest`): two steps that race to start a round start it
once, the second answered with the existing run."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import JsonValue

from sweep_contracts import layout
from sweep_contracts.errors import ExperimentConfigError, RequestError, RunConflictError
from sweep_contracts.experiments import NUISANCE_AXES, Experiment
from sweep_contracts.manifest import RunManifest
from sweep_contracts.search import (
    SearchManifest,
    SearchObjective,
    SearchRequest,
    parse_search_request,
    round_run_id,
)
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.runs import delete_run, differences
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.journal import Reader, RoundRecord, finished_trials, read_rounds
from sweep_orchestrator.search.optimiser import ask_round
from sweep_orchestrator.submit import SubmitResult, new_run_id, prepare, run_estimate, submit_manifest

PROBE_QUANTILES = (0.0, 0.5, 1 - 2**-53)


def resolve_objective(request: SearchRequest, experiment: Experiment[Any]) -> SearchObjective:
    """`search.objective`, else the experiment's declared objective."""
    chosen = request.search.objective
    if chosen is None:
        if experiment.objective is None:
            raise RequestError(
                f"experiment `{experiment.name}` declares no objective, and the search names none.",
                field="search.objective",
                hint="add `objective: {metric: NAME, direction: max}` to the `search:` block"
                + (f" (its metrics: {', '.join(experiment.metrics)})." if experiment.metrics else "."),
            )
        return SearchObjective(metric=experiment.objective.metric, direction=experiment.objective.goal)
    if experiment.metrics and chosen.metric not in experiment.metrics:
        raise RequestError(
            f"`search.objective.metric`: experiment `{experiment.name}` records no metric `{chosen.metric}`.",
            field="search.objective.metric",
            value=chosen.metric,
            hint=f"use one of {', '.join(experiment.metrics)}.",
        )
    return chosen


def _check_nuisance(request: SearchRequest, experiment: Experiment[Any]) -> None:
    allowed = dict.fromkeys([*NUISANCE_AXES, *experiment.nuisance_axes])
    for name in request.search.average_over:
        if name not in allowed:
            raise RequestError(
                f"`search.average_over.{name}`: `{name}` is not a nuisance axis of experiment `{experiment.name}`.",
                field=f"search.average_over.{name}",
                value=name,
                hint=f"average over {', '.join(allowed)} only; search `{name}` under `search.space`, or fix it "
                "in `config`.",
            )


def probe_trials(request: SearchRequest, count: int = len(PROBE_QUANTILES)) -> dict[int, dict[str, JsonValue]]:
    """Trials at the ends and middle of every axis (repeated up to `count`): a round of them checks
    the config schema, and sizes a round for the plan and its estimate."""
    return {
        i: {name: dist.draw(PROBE_QUANTILES[i % len(PROBE_QUANTILES)]) for name, dist in request.search.space.items()}
        for i in range(count)
    }


def round_plans(search: SearchManifest, rt: Runtime) -> list[RunManifest]:
    """The manifest each round's run would get, with probe trials in place of the ones it will ask:
    a round's points, shards and worst-case estimate do not depend on which trials they are."""
    request, plans = search.request, []
    sizes = [request.search.round_size(n) for n in range(request.search.rounds)]
    by_size: dict[int, RunManifest] = {}
    for number, size in enumerate(sizes):
        if size not in by_size:
            probe = request.round_request(search.run_id, number, probe_trials(request, size))
            by_size[size] = prepare(probe.model_dump(mode="json", exclude_none=True), rt)
        plans.append(by_size[size])
    return plans


def prepare_search(payload: Any, rt: Runtime) -> tuple[SearchManifest, RunManifest]:
    """Validate a search and check a round of probe trials as a run would be; writes nothing.
    Answers the search's record and the probe round's manifest (for its plan and estimate)."""
    request = parse_search_request(payload)
    experiment = rt.registry.get(request.experiment)
    _check_nuisance(request, experiment)
    objective = resolve_objective(request, experiment)
    settings = rt.settings()
    total = request.search.budget.trials * request.trial_points
    if total > settings.max_points:
        from sweep_contracts.errors import LimitExceededError

        raise LimitExceededError(
            f"the search may evaluate {total:,} points ({request.search.budget.trials} trials × "
            f"{request.trial_points} points each), over the limit of {settings.max_points:,}.",
            field="search.budget.trials",
            value=request.search.budget.trials,
            limit=settings.max_points // request.trial_points,
            hint="lower `search.budget.trials`, the values of `search.average_over` or `repeats`, "
            "or raise `max_points` in the stage settings.",
        )
    now = rt.clock()
    run_id = request.run_id or _new_search_id(request.experiment, now)
    search = SearchManifest(
        run_id=run_id,
        created_at=now,
        request=request if request.run_id else request.model_copy(update={"run_id": run_id}),
        request_hash=request.content_hash(),
        objective=objective,
        settings=settings.records(),
        code_version=rt.code_version(),
    )
    probe = request.round_request(run_id, 0, probe_trials(request))
    try:
        round_manifest = prepare(probe.model_dump(mode="json", exclude_none=True), rt)
    except ExperimentConfigError as exc:
        raise _in_search_terms(exc, request) from None
    return search, round_manifest


_GRID_AXIS = re.compile(r"^grids\[\d+\]\.axes\.(?P<axis>.+)$")


def _in_search_terms(exc: ExperimentConfigError, request: SearchRequest) -> ExperimentConfigError:
    """A probe round's config error, naming the search's field (`search.space.x`), not the probe
    round's grid (`grids[0].axes.x`), which the user never wrote."""

    def field(path: str | None) -> str | None:
        matched = _GRID_AXIS.fullmatch(path or "")
        if not matched:
            return path
        axis = matched.group("axis")
        return f"search.{'space' if axis in request.search.space else 'average_over'}.{axis}"

    problems, seen = [], set()
    for problem in exc.problems:  # the probe's three trials repeat one problem per grid
        renamed = replace(problem, field=field(problem.field) or problem.field)
        if (renamed.field, renamed.message) not in seen:
            seen.add((renamed.field, renamed.message))
            problems.append(renamed)
    message = exc.message.replace(f"`{exc.field}`", f"`{field(exc.field)}`", 1)
    return ExperimentConfigError(message, field=field(exc.field), value=exc.value, hint=exc.hint, problems=problems)


def _new_search_id(experiment: str, now: datetime) -> str:
    generated = new_run_id(experiment, now)
    slug, stamp = generated[: -len("-yyyymmdd-hhmmss-0123456789abcdef")], generated[-32:]
    return f"{slug[:25].rstrip('-') or 'search'}-{stamp}"


def start_search(payload: Any, rt: Runtime) -> tuple[SearchManifest, bool]:
    """Record a search (create-if-absent). Answers its record and whether it existed already; the
    same run id with other content is a conflict."""
    search, _ = prepare_search(payload, rt)
    return record_search(search, rt)


def record_search(search: SearchManifest, rt: Runtime) -> tuple[SearchManifest, bool]:
    """`start_search` of a search already prepared (`prepare_search`)."""
    if rt.store.put_if_absent(layout.search_key(search.run_id), search.to_json()):
        return search, False
    existing = load_search(rt, search.run_id)
    if existing.request_hash != search.request_hash:
        changed = differences(existing.request.content(), search.request.content())
        raise RunConflictError(
            f"search `{search.run_id}` already exists with other content: " + "; ".join(changed) + ".",
            field="run_id",
            value=search.run_id,
            hint="choose a new `run_id`, or leave it out to have one generated; in a results directory, "
            "`sweep run FILE --force` replaces the existing search.",
        )
    return existing, True


def load_search(rt: Runtime, run_id: str) -> SearchManifest:
    data = rt.store.get(layout.search_key(run_id))
    if data is None:
        from sweep_contracts.errors import RunNotFoundError

        raise RunNotFoundError(
            f"no search `{run_id}` here.",
            field="run_id",
            value=run_id,
            hint="list runs with `sweep runs`; a search's rounds are runs named `<search>-r<nnn>`.",
        )
    return SearchManifest.from_json(data)


def remove_search(store: ObjectStore, run_id: str) -> int:
    """Delete every round's run, then the search's record (last, so an interrupted removal can be
    repeated); answers how many objects were removed."""
    data = store.get(layout.search_key(run_id))
    if data is None:
        return 0
    search = SearchManifest.from_json(data)
    removed = 0
    for number in range(search.request.search.rounds):
        round_id = round_run_id(run_id, number)
        if store.exists(layout.manifest_key(round_id)):
            removed += delete_run(store, round_id)
    store.delete(layout.search_key(run_id))
    return removed + 1


@dataclass(frozen=True)
class Step:
    """What one `advance` did: started round `round`, waits on it, or found the search done."""

    kind: Literal["started", "waiting", "done"]
    round: int | None
    reason: str
    rounds: list[RoundRecord]
    submitted: SubmitResult | None = None


def spent_usd(rt: Runtime, rounds: list[RoundRecord]) -> float:
    """The worst-case cost of the rounds started, from their manifests' estimates."""
    total = 0.0
    for record in rounds:
        data = rt.store.get(layout.manifest_key(record.run_id))
        if data is not None:
            total += run_estimate(RunManifest.from_json(data)).cost_usd
    return total


def advance(rt: Runtime, search: SearchManifest, rows_of: Reader, *, now: datetime | None = None) -> Step:
    """One step: start the next round if the last one is done and budget is left."""
    spec = search.request.search
    rounds = read_rounds(rt.store, search, rows_of)
    if rounds and not rounds[-1].done:
        return Step("waiting", rounds[-1].number, "the round's shards are still running", rounds)
    number = len(rounds)
    if number >= spec.rounds:
        return Step("done", None, f"the budget of {spec.budget.trials} trials is spent", rounds)
    elapsed = ((now or rt.clock()) - search.created_at).total_seconds()
    if spec.budget.time_s is not None and elapsed >= spec.budget.time_s:
        return Step("done", None, f"the time budget of {spec.budget.time_s:g} s is spent ({elapsed:.0f} s)", rounds)
    trials = ask_round(search, finished_trials(rounds), number)
    request = search.request.round_request(search.run_id, number, trials)
    # a round's shards tally their points per series into their outcomes: what the stage's step reads
    manifest = prepare(request.model_dump(mode="json", exclude_none=True), rt).model_copy(update={"tally_series": True})
    if spec.budget.cost_usd is not None and rt.on_lambda:
        planned = run_estimate(manifest).cost_usd
        spent = spent_usd(rt, rounds)
        if spent + planned > spec.budget.cost_usd:
            return Step(
                "done",
                None,
                f"round {number + 1} would bring the worst-case cost to ${spent + planned:.4f}, over the "
                f"budget of ${spec.budget.cost_usd:g}",
                rounds,
            )
    result, _ = submit_manifest(manifest, rt)
    return Step("started", number, "existing" if result.existing else "new", rounds, result)
