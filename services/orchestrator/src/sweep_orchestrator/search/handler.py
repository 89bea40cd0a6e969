"""Entry point of the search function: `sweep_orchestrator.search.handler.handler(event, context)`.

The step of a search's rounds asks Optuna, which the orchestrator's artifact leaves out (its API
keeps a lean cold start), so it runs in a function of its own, shipped with the `search` extra.
Two kinds of event arrive, and both only call `rounds.advance` for the searches they name:
- S3 notifications of outcomes that landed (`trigger.on_outcomes`): the search of each round run
- `SearchStepEvent`s (`search.step`), sent by the orchestrator when a search is submitted or retried

Neither is trusted for more than a name: the step reads the search's record and rounds from the
store and starts a round only when the store says the last one is done, with a manifest created
only if absent, so a repeated or forged event does no more than a real one. Anything else is
refused (`trust.refused`). Its store, dispatcher and settings are the orchestrator's
(`sweep_orchestrator.deps`); on a stage it has no orchestrator to hand a fan-out to, so it invokes
every shard of a round itself (`LambdaDispatcher` without `orchestrator_function`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from pydantic import ValidationError

from sweep_contracts import layout
from sweep_contracts.errors import SweepError
from sweep_contracts.search import SEARCH_STEP_KIND, SearchManifest, SearchStepEvent
from sweep_orchestrator import deps
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.journal import Reader
from sweep_orchestrator.search.rounds import Step, advance
from sweep_orchestrator.search.totals import OutcomeTotals
from sweep_orchestrator.search.trigger import event_keys, is_s3_event, searches_of
from sweep_orchestrator.trust import Untrusted, refused

logger = Logger(service="sweep-search")
copy_config_to_registered_loggers(source_logger=logger, include={"sweep"})

Answer = dict[str, Any]


def _step(rt: Runtime, run_id: str, rows_of: Reader) -> Answer:
    """Advance one search; its answer, or its error as the API would render it (logged, not raised:
    a step that failed is taken again by the next outcome that lands, or by `sweep retry`)."""
    try:
        data = rt.store.get(layout.search_key(run_id))
        if data is None:
            return {"step": "none", "reason": f"no search `{run_id}` in the store"}
        step: Step = advance(rt, SearchManifest.from_json(data), rows_of)
    except SweepError as exc:
        logger.error("search %s: the step failed: %s", run_id, exc.message, extra={"error": exc.to_dict()})
        return {"error": exc.to_dict()}
    except Exception as exc:  # a bug or an SDK error: logged with its traceback, answered without it
        logger.exception("search %s: the step failed", run_id)
        return {"error": {"code": "INTERNAL", "message": f"{type(exc).__name__}: the step failed; see the log"}}
    logger.info("search %s: %s (round %s): %s", run_id, step.kind, step.round, step.reason)
    return {"step": step.kind, "round": step.round}


def _steps(rt: Runtime, searches: Iterable[str]) -> Answer:
    reader = OutcomeTotals(rt.store)  # the outcomes' per-series tallies: no Parquet points read
    return {"searches": {run_id: _step(rt, run_id, reader) for run_id in searches}}


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> Answer:
    if not isinstance(event, dict):
        return refused("malformed", Untrusted(f"the event is {type(event).__name__}, not a JSON object"))
    d = deps.current()
    store = d.runtime.store
    if is_s3_event(event):
        # only keys of this stage's own bucket and prefix: the event says where to look, the store decides
        keys = event_keys(event, getattr(store, "bucket", None), getattr(store, "prefix", ""))
        return _steps(d.runtime, searches_of(keys))
    if event.get("kind") == SEARCH_STEP_KIND:
        try:
            step = SearchStepEvent.model_validate(event)
        except ValidationError as exc:
            return refused(SEARCH_STEP_KIND, Untrusted(f"not a search step: {exc.error_count()} problems"))
        return _steps(d.runtime, [step.search_id])
    reason = f"the search function takes S3 notifications of outcomes and `{SEARCH_STEP_KIND}` events only"
    return refused("non-search", Untrusted(reason))
