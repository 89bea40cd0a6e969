"""Retry: re-dispatch only the failed and missing shards of a run, each with its next attempt
number. Deterministic keys make this safe: a rerun overwrites, and a success removes the failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from sweep_contracts.base import Frozen
from sweep_contracts.errors import SettingsError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import finish_run_cleanup
from sweep_orchestrator.dispatch import DispatchReport, ShardRef
from sweep_orchestrator.dispatched import overdue_at, read_record, write_record
from sweep_orchestrator.failures import dispatch_failures, record_failures
from sweep_orchestrator.listing import standing_outcomes
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.status import OutcomeReader

RETRY_SETTINGS = ("shard_time_budget_s", "time_budget_margin_ms", "dispatch_concurrency", "dispatch_max_attempts")
"""Settings a retry may change: how a shard runs, not how the run is split into shards."""


class RetryResult(Frozen):
    run_id: str
    failed: int
    missing: int
    running: int = Field(default=0, description="Shards without outcome that are not overdue yet: left to run.")
    dispatched: int
    delegated: int = 0
    dispatch_failed: int = 0


def shards_to_retry(
    rt: Runtime, manifest: RunManifest, all_overdue: bool = False
) -> tuple[list[ShardRef], int, int, int]:
    """(shard refs with their next attempt, how many failed, how many missing, how many running).

    Which shards have an outcome, and which of those failed, comes from the outcome listing; only
    the failures are read, for the attempt they were at. A shard without outcome is re-dispatched
    only once it is overdue: before that it may well be running, and a second copy would only race it."""
    run_id = manifest.run_id
    standing = standing_outcomes(rt.store, run_id, manifest.plan.shard_count)
    failed_ids = sorted(k for k, (status, _) in standing.items() if status == "failure")
    read = OutcomeReader(rt.store, limit=0).read(run_id, [standing[k][1] for k in failed_ids])
    failures = {k: outcome for k, outcome in zip(failed_ids, read, strict=True) if outcome is not None}
    overdue = all_overdue or rt.clock() >= overdue_at(manifest, read_record(rt.store, run_id))
    refs: list[ShardRef] = []
    failed = missing = running = 0
    for shard_id in range(manifest.plan.shard_count):
        # a failure gone since the listing is being rewritten: without outcome for this retry
        has_outcome = shard_id in standing and (shard_id not in failed_ids or shard_id in failures)
        if not has_outcome and not overdue:
            running += 1
        elif not has_outcome:
            refs.append((shard_id, 2))
            missing += 1
        elif (outcome := failures.get(shard_id)) is not None:
            refs.append((shard_id, outcome.attempt + 1))
            failed += 1
    return refs, failed, missing, running


def with_settings(manifest: RunManifest, overrides: Mapping[str, Any]) -> RunManifest:
    """The manifest whose retried shard tasks carry `overrides` over the settings it was planned
    with (the stored manifest is not changed: it records how the run was first planned)."""
    from sweep_contracts.settings import SystemSettings

    records = dict(manifest.settings)
    for name, value in overrides.items():
        checked = SystemSettings.check_value(name, value)
        if name not in RETRY_SETTINGS:
            raise SettingsError(
                f"setting `{name}` cannot change on a retry: it decides how the run is split into shards.",
                field=name,
                value=value,
                hint=f"a retry may set {', '.join(f'`{n}`' for n in RETRY_SETTINGS)}; "
                "to change anything else, run the sweep again (`sweep run FILE --force`).",
            )
        records[name] = {"value": checked, "source": "retry", "version": None}
    return manifest.model_copy(update={"settings": records})


def retry_run(
    rt: Runtime, run_id: str, overrides: Mapping[str, Any] | None = None, *, all_overdue: bool = False
) -> RetryResult:
    """Re-dispatch the failed shards and the overdue ones without outcome, with `overrides` over the
    settings the run was planned with. `all_overdue` says no shard can be running (the local engine:
    its workers end with the command that started them)."""
    manifest = with_settings(load_manifest(rt.store, run_id), overrides or {})
    finish_run_cleanup(rt.store, run_id)  # a stale failure beside a success: this touch removes it
    refs, failed, missing, running = shards_to_retry(rt, manifest, all_overdue)
    return dispatch_retry(rt, manifest, refs, failed, missing, running)


def dispatch_retry(
    rt: Runtime, manifest: RunManifest, refs: list[ShardRef], failed: int, missing: int, running: int
) -> RetryResult:
    """Dispatch `refs` again (a run's retry, or a search round's), record the shards that could not
    be handed over and the dispatch, and say what was done."""
    report = DispatchReport()
    if refs:
        report = rt.dispatcher.dispatch(manifest, refs)
        record_failures(rt.store, manifest.run_id, dispatch_failures(manifest.plan, report, dict(refs)), rt.clock())
        write_record(rt.store, manifest.run_id, rt.clock(), len(refs))
    return RetryResult(
        run_id=manifest.run_id,
        failed=failed,
        missing=missing,
        running=running,
        dispatched=report.dispatched,
        delegated=report.delegated,
        dispatch_failed=len(report.failed),
    )
