"""Entry point of the orchestrator: `sweep_orchestrator.handler.handler(event, context)`.

Wiring only. Three kinds of event arrive:
- API Gateway HTTP API requests (payload 2.0)  -> `sweep_orchestrator.api`
- its own dispatch tasks (the fan-out tree)    -> `sweep_orchestrator.fanout`
- the worker's on-failure destination records -> `sweep_orchestrator.reconcile`
Anything else (an S3 notification, a search step) is refused as a malformed HTTP event: a search's
rounds are stepped by the search function (`sweep_orchestrator.search.handler`), which ships Optuna.

`reconcile_handler` is the reconciler function's entry (the worker's on-failure destination): it
takes destination records only and has no path to dispatch, so a worker, which may invoke nothing
but the reconciler, cannot make anything be dispatched.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from sweep_contracts.errors import RequestError
from sweep_orchestrator import deps
from sweep_orchestrator.api import app
from sweep_orchestrator.dispatch_task import DISPATCH_KIND
from sweep_orchestrator.fanout import handle_dispatch
from sweep_orchestrator.reconcile import is_destination_record, reconcile
from sweep_orchestrator.trust import Untrusted, refused, verify_destination

logger = Logger(service="sweep-orchestrator")
copy_config_to_registered_loggers(source_logger=logger, include={"sweep"})


def _reconcile(event: dict[str, Any]) -> dict[str, Any]:
    d = deps.current()
    try:
        verify_destination(event, d.runtime.store, d.dispatcher.worker_function, d.dispatcher.orchestrator_function)
    except Untrusted as exc:
        return refused("destination record", exc)
    return reconcile(event, d.runtime.store, d.runtime.clock)


@logger.inject_lambda_context(clear_state=True)
def reconcile_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not is_destination_record(event):
        reason = "the reconciler takes Lambda's destination records only (the worker's and the orchestrator's)"
        return refused("non-destination", Untrusted(reason))
    return _reconcile(event)


def _http_shape_problem(event: dict[str, Any]) -> str | None:
    """What keeps `event` from being an HTTP API (payload 2.0) request, or None. API Gateway always
    sends these fields; anything else reaching this function is refused before Powertools reads it."""
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    if not isinstance(http, dict) or not isinstance(http.get("method"), str):
        return "it has no `requestContext.http.method`"
    if not isinstance(event.get("rawPath"), str):
        return "it has no `rawPath`"
    return None


def _bad_event(problem: str) -> dict[str, Any]:
    error = RequestError(
        f"the event is not an HTTP API request: {problem}.",
        field="event",
        hint="call the orchestrator through its HTTP API (payload format 2.0), as `sweep submit` does.",
    )
    logger.error("refused a malformed HTTP event: %s", problem)
    return {
        "statusCode": error.http_status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error.to_dict()),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        return refused("malformed", Untrusted(f"the event is {type(event).__name__}, not a JSON object"))
    if is_destination_record(event):
        return _reconcile(event)
    if event.get("kind") == DISPATCH_KIND:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return handle_dispatch(event, deps.current(), remaining() / 1000 if callable(remaining) else None)
    problem = _http_shape_problem(event)
    if problem is not None:
        return _bad_event(problem)
    return app.resolve(event, context)
