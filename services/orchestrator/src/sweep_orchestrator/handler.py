"""Entry point of the orchestrator: `sweep_orchestrator.handler.handler(event, context)`.

Wiring only. Three kinds of event arrive:
- API Gateway HTTP API requests (payload 2.0)  -> `sweep_orchestrator.api`
- its own dispatch tasks (the fan-out tree)    -> `sweep_orchestrator.fanout`
- the worker's on-failure destination records -> `sweep_orchestrator.reconcile`

`reconcile_handler` is the reconciler function's entry (the worker's on-failure destination): it
takes destination records only and has no path to dispatch, so a worker, which may invoke nothing
but the reconciler, cannot make anything be dispatched.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

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
        verify_destination(event, d.runtime.store, d.dispatcher.worker_function)
    except Untrusted as exc:
        return refused("destination record", exc)
    return reconcile(event, d.runtime.store, d.runtime.clock)


@logger.inject_lambda_context(clear_state=True)
def reconcile_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not is_destination_record(event):
        return refused("non-destination", Untrusted("the reconciler takes the worker's destination records only"))
    return _reconcile(event)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_destination_record(event):
        return _reconcile(event)
    if isinstance(event, dict) and event.get("kind") == DISPATCH_KIND:
        return handle_dispatch(event, deps.current())
    return app.resolve(event, context)
