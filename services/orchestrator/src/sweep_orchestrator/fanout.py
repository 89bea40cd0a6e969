"""A node of the dispatch fan-out tree: dispatch the shards a `DispatchTask` names (or split them
again), and record DISPATCH_FAILED for those that could not be handed over."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sweep_contracts.errors import SweepError
from sweep_orchestrator.deps import OrchestratorDeps
from sweep_orchestrator.dispatch_task import DispatchTask
from sweep_orchestrator.failures import dispatch_failures, record_failures
from sweep_orchestrator.lambda_dispatch import DispatchPolicy
from sweep_orchestrator.trust import Untrusted, refused, verify_dispatch

log = logging.getLogger("sweep.fanout")


def handle_dispatch(event: Mapping[str, Any], d: OrchestratorDeps, remaining_s: float | None = None) -> dict[str, Any]:
    """`remaining_s`: this invocation's time left, the budget for retrying throttled invokes."""
    try:
        task = DispatchTask.model_validate(event)
        verify_dispatch(task, d.runtime.store)
    except ValidationError as exc:
        return refused("sweep.dispatch", Untrusted(f"not a dispatch task: {exc.error_count()} problems"))
    except SweepError as exc:  # a contract check that raises its own error (an empty `config`)
        return refused("sweep.dispatch", Untrusted(f"not a dispatch task: {exc.code}: {exc}"))
    except Untrusted as exc:
        return refused("sweep.dispatch", exc)
    refs = task.refs()
    report = d.dispatcher.dispatch_shards(
        task.factory(), refs, DispatchPolicy.from_settings(task.settings, remaining_s)
    )
    failures = dispatch_failures(task.plan, report, dict(refs))
    record_failures(d.runtime.store, task.run_id, failures, d.runtime.clock())
    log.info(
        "run %s: dispatched %d, delegated %d, failed %d",
        task.run_id,
        report.dispatched,
        report.delegated,
        len(report.failed),
    )
    return {
        "run_id": task.run_id,
        "dispatched": report.dispatched,
        "delegated": report.delegated,
        "failed": len(report.failed),
    }
