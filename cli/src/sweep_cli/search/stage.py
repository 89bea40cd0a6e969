"""A search on a deployed stage: `sweep submit FILE --stage` of a search file, `sweep status SEARCH
--stage` and `sweep retry SEARCH --stage`. The stage's API answers them (POST /runs, GET /runs/{id},
POST /runs/{id}/retry, each with `kind: search`); its status is shown with the same views as a
search in a results directory (`search.view`), read from the rounds' outcomes there."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from sweep_cli import render
from sweep_cli.app import EXIT_FAILED, EXIT_OK
from sweep_cli.search.view import SearchView, history, status_text
from sweep_cli.stage.backend import StageBackend
from sweep_orchestrator.search.journal import best_trial
from sweep_orchestrator.search.progress import SearchStatus
from sweep_orchestrator.search.retry import SearchRetryResult
from sweep_orchestrator.search.start import SearchSubmitResult

M = TypeVar("M", bound=BaseModel)

STILL_POLLS = 20
"""Polls `--watch` waits for a search that does not move (no round started, or the next round due)
before it says so and ends: a step that was lost leaves it so until `sweep retry SEARCH`."""


def _known(model: type[M], answer: dict[str, Any]) -> M:
    """`answer` as `model`, without the fields it adds (`status_url`; those of a newer stage)."""
    return model.model_validate({k: v for k, v in answer.items() if k in model.model_fields})


def is_search_answer(answer: Any) -> bool:
    """Whether the stage answered about a search (its answers say `kind: search`)."""
    return isinstance(answer, dict) and answer.get("kind") == "search"


def submitted_text(result: SearchSubmitResult, backend: StageBackend) -> str:
    plan, flags = result.plan, backend.stage.flags
    verb = "exists already" if result.existing else "accepted"
    per_round = ", ".join(str(n) for n in plan.trials_per_round)
    lines = [
        f"search {result.search_id} {verb} on stage {backend.stage.name}: {plan.trials} trials in {plan.rounds} "
        f"rounds ({per_round} trials), {plan.points_per_trial} points per trial, "
        f"{result.objective.direction} {result.objective.metric}",
        f"  first round: run {result.first_round}"
        + (" (the search function starts it)" if result.stepped else " (not started: see the warning)"),
    ]
    if plan.worst_case_cost_usd is not None:
        lines.append(
            f"  worst case: ${plan.worst_case_cost_usd:,.4f} for the whole budget, "
            f"{plan.worst_case_makespan_s or 0:,.0f} s of rounds one after another"
        )
    lines += [
        f"  follow: sweep status {result.search_id} {flags}",
        f"  a round's rows: sweep results {result.first_round} {flags}",
    ]
    lines += [f"  warning: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def submit_search(backend: StageBackend, payload: Any) -> str:
    """POST the search; say what started and what to run next. Answers the search's id."""
    result = _known(SearchSubmitResult, backend.client.submit(payload))
    render.err.print(render.shown(submitted_text(result, backend), lines=True))
    return result.search_id


def stage_view(status: SearchStatus) -> SearchView:
    """The local views' model of a search, from the stage's answer (no importances: they need Optuna
    over every trial's values, which `sweep results` of a downloaded search computes)."""
    rounds = [r.record() for r in status.rounds]
    trials = [t for r in rounds for t in r.trials]
    direction = status.search.objective.direction
    return SearchView(status.search, rounds, history(trials, direction), best_trial(trials, direction), None, {})


def budget_text(status: SearchStatus) -> str:
    budget, parts = status.budget, []
    if budget.cost_usd is not None:
        spent = budget.spent_usd or 0.0
        parts.append(f"cost ${spent:,.4f} of ${budget.cost_usd:g} (worst case of the rounds started)")
    if budget.time_s is not None:
        parts.append(f"time {budget.elapsed_s:,.0f} s of {budget.time_s:g} s")
    return "budget: " + "; ".join(parts) if parts else ""


def round_text(status: SearchStatus) -> str:
    if status.current_round is None:
        return f"{status.state}: {status.reason}"
    current = status.rounds[-1]
    run = current.status
    return (
        f"{status.state}: {status.reason}; round {current.number + 1} ({current.run_id}): {run.label}, "
        f"{run.shards_success} of {run.shards_total} shards succeeded, {run.shards_failure} failed, "
        f"{run.shards_pending} pending"
    )


def print_status(backend: StageBackend, answer: dict[str, Any], *, as_json: bool, follow: bool = False) -> int:
    """`sweep status SEARCH --stage [--watch]`; the exit code is the local one's (0 while it runs),
    and 1 when a watch ends before the search is done."""
    status, stopped = watch(backend, answer) if follow else (_known(SearchStatus, answer), None)
    view = stage_view(status)
    if as_json:
        print(json.dumps(status.model_dump(mode="json", exclude={"search"}), indent=2))
    else:
        render.out.print(render.shown(status_text(view)))
        render.out.print(render.shown(round_text(status)))
        if budget := budget_text(status):
            render.out.print(render.shown(budget))
        current = status.rounds[-1] if status.rounds else None
        if current is not None and current.status.shards_failure and not current.status.done:
            render.out.print(
                render.shown(f"  rerun its failed trials with: sweep retry {status.search_id} {backend.stage.flags}")
            )
    if stopped is not None:
        render.err.print(
            render.shown(
                f"{stopped}: `sweep retry {status.search_id} {backend.stage.flags}` reruns its current round's "
                "failed trials and steps the search"
            )
        )
        return EXIT_FAILED
    return EXIT_OK if view.budget_left or view.best else EXIT_FAILED


def watch(
    backend: StageBackend, answer: dict[str, Any], *, sleep: Callable[[float], None] | None = None
) -> tuple[SearchStatus, str | None]:
    """Poll the search until it is done, its current round stalls, or it does not move for
    `STILL_POLLS` polls; each change of its current round is said on stderr. Answers the last
    status and why the watch ended early (None when the search is done)."""
    from sweep_cli.stage import backend as stage_backend

    status, last, still = _known(SearchStatus, answer), "", 0
    while True:
        line = round_text(status)
        still = still + 1 if line == last else 0
        if line != last:
            render.err.print(render.shown(line))
            last = line
        current = status.rounds[-1].status if status.rounds else None
        if status.state == "done":
            return status, None
        if current is not None and current.state == "stalled":
            return status, f"round {status.rounds[-1].number + 1} is stalled"
        if still >= STILL_POLLS and (current is None or current.done):
            return status, f"the search has not moved for {STILL_POLLS} polls"
        (sleep or time.sleep)(stage_backend.POLL_S)
        status = _known(SearchStatus, backend.client.status(status.search_id))


def retry_text(result: SearchRetryResult) -> str:
    done = result.retried
    sent = (
        f"retrying {done.failed} failed and {done.missing} missing shards of {done.run_id} "
        f"({done.dispatched + done.delegated} handed over, {done.dispatch_failed} not)"
        if done is not None
        else f"nothing to rerun: {result.reason}"
    )
    step = (
        "the search function was asked to step the search"
        if result.stepped
        else f"the search function could not be asked to step the search ({result.step_error}): run this again"
    )
    return f"search {result.search_id}: {sent}; {step}."


def print_retry(answer: dict[str, Any]) -> int:
    result = _known(SearchRetryResult, answer)
    render.err.print(render.shown(retry_text(result)))
    return EXIT_OK if result.stepped else EXIT_FAILED
