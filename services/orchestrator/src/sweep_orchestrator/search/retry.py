"""POST /runs/{search_id}/retry: re-run the failed trials of a search's current round, then step it.

The **current round** is the last round started (the highest `<search>-r<nnn>` with a manifest).
No earlier round is ever run again: a later round was asked from its trials.

- While the current round still has shards without an outcome, its failed shards (and, as
  `sweep retry` of a run does, those overdue without outcome) are dispatched again at their next
  attempt. Their failure outcomes are taken out first, so no step sees the round done — and tells
  the optimiser those trials failed — before the retried shards land; each trial is told once,
  with its final result. If the round's other shards all landed while this began (a step may
  then have read it done, failures and all), the failures are put back and nothing is retried.
- Once every shard of the current round has an outcome, the round is **complete**: any step reads
  it done and tells its trials to the optimiser, the failed ones as failed (the trigger of its
  last outcome does so at once), so it is not run again — also when the next round has not
  started yet: the step this sends starts it (or finds the budget spent). The same as
  `sweep retry SEARCH` in a results directory, where a finished round is never run again.

Either way the search is then stepped (`SearchStepEvent`): that starts a round a lost step left
unstarted; otherwise the outcomes of the retried shards step it when they land."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sweep_contracts import layout
from sweep_contracts.base import Frozen
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import finish_run_cleanup
from sweep_contracts.search import SearchManifest, round_run_id
from sweep_orchestrator.listing import standing_outcomes
from sweep_orchestrator.retry import RetryResult, dispatch_retry, shards_to_retry
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.rounds import load_search
from sweep_orchestrator.search.start import no_search_function
from sweep_orchestrator.search.steps import SearchSteps


class SearchRetryResult(Frozen):
    """What a search's retry did: the round it looked at, what it sent again, and the step."""

    kind: Literal["search"] = "search"
    search_id: str
    round: int | None = Field(description="The current round (0-based); none before the first.")
    round_run_id: str | None = None
    retried: RetryResult | None = Field(default=None, description="The round's shards sent again, if any.")
    reason: str
    stepped: bool
    step_error: str | None = None


def current_round(rt: Runtime, search: SearchManifest) -> int | None:
    """The last round started: rounds start one after another, numbered from 0 without gaps."""
    last = None
    for number in range(search.request.search.rounds):
        if not rt.store.exists(layout.manifest_key(round_run_id(search.run_id, number))):
            break
        last = number
    return last


def retry_search(
    rt: Runtime, steps: SearchSteps | None, search_id: str, *, all_overdue: bool = False
) -> SearchRetryResult:
    """Retry the current round's failed trials (see the module's docstring), then step the search."""
    if steps is None:
        raise no_search_function()
    search = load_search(rt, search_id)
    number = current_round(rt, search)
    retried: RetryResult | None = None
    if number is None:
        reason = "no round has started yet: the step starts the first"
    else:
        retried, reason = retry_round(rt, load_manifest(rt.store, round_run_id(search_id, number)), all_overdue)
    error = steps.step(search_id)
    return SearchRetryResult(
        search_id=search_id,
        round=number,
        round_run_id=None if number is None else round_run_id(search_id, number),
        retried=retried,
        reason=reason,
        stepped=error is None,
        step_error=error,
    )


def retry_round(rt: Runtime, manifest: RunManifest, all_overdue: bool) -> tuple[RetryResult | None, str]:
    """Send the round's failed (and overdue) shards again while it is not complete; see the module."""
    run_id, count = manifest.run_id, manifest.plan.shard_count
    finish_run_cleanup(rt.store, run_id)
    refs, failed, missing, running = shards_to_retry(rt, manifest, all_overdue)
    label = f"round {run_id}"
    if not missing + running:
        return None, (
            f"{label} is complete: its trials are told to the optimiser as they ended (failed ones as failed) "
            "when the next round is asked, so it is not run again"
        )
    if not refs:
        return None, f"{label} has no failed shards; {running} are still running"
    standing = standing_outcomes(rt.store, run_id, count)
    failures = {k: standing[k][1].key for k, _ in refs if k in standing and standing[k][0] == "failure"}
    saved = {key: data for key in failures.values() if (data := rt.store.get(key)) is not None}
    for key in saved:
        rt.store.delete(key)
    after = standing_outcomes(rt.store, run_id, count)
    if all(k in after or k in failures for k in range(count)):
        for key, data in saved.items():  # the round completed meanwhile: as it was, told as it ended
            rt.store.put(key, data)
        return None, f"{label} completed while the retry began: it is not run again"
    return dispatch_retry(rt, manifest, refs, failed, missing, running), f"{label}: its failed shards run again"
