"""POST /runs, the pure part: validate → settings → plan → write manifest → dispatch → answer.

Everything that can reject a request runs before the manifest is written, so a rejected request
leaves nothing behind and dispatches nothing."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field, JsonValue

from sweep_contracts import binding, layout
from sweep_contracts._json import canonical_json
from sweep_contracts.base import Frozen
from sweep_contracts.decoding import check_size
from sweep_contracts.defaults import merge_config
from sweep_contracts.errors import LimitExceededError, RunConflictError
from sweep_contracts.experiments import Experiment
from sweep_contracts.manifest import RunManifest, RunPlan
from sweep_contracts.planning import ShardPlan, plan_shards
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SweepRequest, parse_request
from sweep_contracts.settings import SystemSettings
from sweep_contracts.version import experiment_version
from sweep_orchestrator.cost.estimate import (
    RunEstimate,
    check_run,
    estimate_run,
    secret_fanout_message,
    with_secret_reads,
)
from sweep_orchestrator.dispatch import DispatchReport, ShardRef, all_shards
from sweep_orchestrator.dispatched import read_record, write_record
from sweep_orchestrator.failures import dispatch_failures, record_failures
from sweep_orchestrator.listing import standing_outcomes
from sweep_orchestrator.runs import differences, load_manifest
from sweep_orchestrator.runtime import Runtime


class SubmitResult(Frozen):
    """The answer to a submission."""

    run_id: str
    points: int
    shards: int
    shard_size: int
    existing: bool = Field(description="True when the run_id named a run with the same content already.")
    dispatched: int = 0
    delegated: int = 0
    dispatch_failed: int = 0
    warnings: list[str] = Field(default_factory=list)
    estimate: RunEstimate | None = Field(
        default=None, description="The run's expected cost and makespan on this stage; none for an existing run."
    )


RUN_ID_SLUG = 30
"""Characters of the experiment name kept in a generated run id: 30 + 1 + 15 + 1 + 16 = 63, the run id maximum."""


def new_run_id(experiment: str, now: datetime) -> str:
    """`<experiment>-<yyyymmdd>-<hhmmss>-<16 hex>`: sortable by time, and 64 random bits, so two runs
    submitted in the same second collide with odds of about n²/2**65 (one in 10**8 for a million)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", experiment.lower()).strip("-")[:RUN_ID_SLUG] or "run"
    return f"{slug}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(8)}"


def request_size(payload: Any) -> int:
    return len(canonical_json(payload).encode())


@dataclass(frozen=True)
class Validated:
    """A request checked against the stage and its experiment, with its run id and time: all a
    plan needs besides the settings that size its shards."""

    request: SweepRequest
    experiment: Experiment[Any]
    config: dict[str, JsonValue]
    provenance: dict[str, dict[str, Any]]
    space: PointSpace
    run_id: str
    now: datetime
    code_version: dict[str, str]


def validate(payload: Any, rt: Runtime, *, request_bytes: int | None = None) -> Validated:
    """Parse and check a request (size, experiment, config, secret bindings); plans nothing, writes nothing."""
    settings = rt.settings()
    if request_bytes is not None:
        check_size(request_bytes, settings.max_request_bytes)
    request = parse_request(payload)
    if request_bytes is None:
        check_size(request_size(request.model_dump(mode="json", exclude_none=True)), settings.max_request_bytes)
    experiment = rt.registry.get(request.experiment)
    # the stage defaults are read once, here; the merged config then travels in every task
    config, provenance = merge_config(experiment, request.config, settings.experiment_defaults)
    if experiment.secrets:
        # the request names where its calls go; the stage's bindings say where a key may go
        header = experiment.config_model.model_fields.get(binding.HEADER_FIELD)
        default_header = str(header.default) if header is not None else binding.DEFAULT_HEADER
        binding.check_request(experiment.secrets, settings.secret_bindings, config, request, default_header)
    space = PointSpace(request, config)
    experiment.check_request(request, space)
    now = rt.clock()
    run_id = request.run_id or new_run_id(request.experiment, now)
    code_version = {**rt.code_version(), **experiment_version(experiment)}
    return Validated(request, experiment, config, provenance, space, run_id, now, code_version)


def plan_run(validated: Validated, rt: Runtime) -> RunManifest:
    """Plan a validated request into the manifest it gets with the runtime's settings; writes nothing."""
    settings = rt.settings()
    plan = plan_shards(validated.space.size, settings, validated.request.shard_size)
    manifest = run_manifest(validated, rt, plan)
    _check_task_size(manifest, settings)
    if rt.on_lambda:
        check_run(run_estimate(manifest, settings, validated.experiment.secrets), settings)
    return manifest


def run_manifest(validated: Validated, rt: Runtime, plan: ShardPlan) -> RunManifest:
    """The manifest of `validated` with `plan` and the runtime's settings, unchecked."""
    request, config = validated.request, validated.config
    return RunManifest(
        run_id=validated.run_id,
        created_at=validated.now,
        request=request if request.run_id else request.model_copy(update={"run_id": validated.run_id}),
        request_hash=RunManifest.hash_request(request),
        plan=RunPlan.build(plan, validated.space),
        settings=rt.settings().records(),
        code_version=validated.code_version,
        config=config if config != request.config else None,
        config_provenance=validated.provenance,
    )


def prepare(payload: Any, rt: Runtime, *, request_bytes: int | None = None) -> RunManifest:
    """Validate and plan a request into the manifest it would get; writes nothing."""
    return plan_run(validate(payload, rt, request_bytes=request_bytes), rt)


def run_estimate(
    manifest: RunManifest, settings: SystemSettings | None = None, secrets: Sequence[str] = ()
) -> RunEstimate:
    """The run's cost and makespan on the stage whose settings planned it; `secrets`, its experiment's."""
    effective = settings or manifest.effective_settings()
    estimate = estimate_run(manifest.plan, effective, manifest.request.expected_point_s)
    return with_secret_reads(estimate, effective, secrets)


def run_warnings(estimate: RunEstimate, settings: SystemSettings, experiment: Experiment[Any]) -> list[str]:
    """What a run the stage accepts is submitted with: `check_run`'s warnings, and whether Parameter
    Store can serve the secret reads of its cold workers."""
    fanout = secret_fanout_message(estimate.shards, settings, experiment.name, experiment.secrets)
    return [*check_run(estimate, settings), *([fanout] if fanout else [])]


RETRY_ATTEMPT_DIGITS = 3
"""Room in the size check for the attempt number a retry puts into a task."""


def largest_task_bytes(manifest: RunManifest) -> int:
    """The encoded size of the run's largest shard task: the last shard has the longest index range
    numbers, and a retry's attempt number adds a few digits."""
    task = manifest.task_factory().event_json(manifest.plan.shard_count - 1, attempt=10 ** (RETRY_ATTEMPT_DIGITS - 1))
    return len(task.encode())


def _check_task_size(manifest: RunManifest, settings: SystemSettings) -> None:
    size = largest_task_bytes(manifest)
    if size > settings.max_task_bytes:
        raise LimitExceededError(
            f"the request is accepted in size, but its shard tasks encode to {size:,} bytes, over the "
            f"limit of {settings.max_task_bytes:,} an async Lambda invoke may carry (`max_task_bytes`).",
            field="request",
            value=size,
            limit=settings.max_task_bytes,
            hint="every shard task carries the config and sweep spec re-encoded, and numbers are written in "
            "full (1e15 becomes 1000000000000000.0): shorten the config and point lists, or give long "
            "numeric values as strings.",
        )


def submit_run(
    payload: Any,
    rt: Runtime,
    *,
    request_bytes: int | None = None,
) -> tuple[SubmitResult, RunManifest]:
    """Submit a run. Resubmitting a run_id with the same content answers with the existing run;
    with other content it is a conflict. The dispatcher decides how the shards are handed over
    (on Lambda, large runs go through its fan-out tree)."""
    return submit_manifest(prepare(payload, rt, request_bytes=request_bytes), rt)


def submit_manifest(manifest: RunManifest, rt: Runtime) -> tuple[SubmitResult, RunManifest]:
    """`submit_run` of a request already validated and planned (`prepare`, or `plan_run`)."""
    if rt.store.put_if_absent(layout.manifest_key(manifest.run_id), manifest.to_json()):
        report = _dispatch(rt, manifest, all_shards(manifest))
        experiment = rt.registry.get(manifest.request.experiment) if rt.on_lambda else None
        return _result(manifest, existing=False, report=report, experiment=experiment), manifest
    existing = load_manifest(rt.store, manifest.run_id)
    if existing.request_hash != manifest.request_hash:
        changed = differences(existing.request.content(), manifest.request.content())
        raise RunConflictError(
            f"run `{manifest.run_id}` already exists with other content: " + "; ".join(changed) + ".",
            field="run_id",
            value=manifest.run_id,
            hint="choose a new `run_id` (`sweep run FILE --run-id NEW`), or leave it out to have one "
            "generated; to replace the existing run, `sweep run FILE --force`; to rerun failed shards of "
            "the existing run, `sweep retry`.",
        )
    if read_record(rt.store, existing.run_id) is None:
        # its dispatch never finished (the orchestrator died midway, or this very call's manifest
        # write committed but answered an error, and botocore's retry found the object): hand over
        # every shard without an outcome (one handed over already may run twice: harmless)
        finished = standing_outcomes(rt.store, existing.run_id, existing.plan.shard_count)  # listed, not read
        unfinished = [(k, a) for k, a in all_shards(existing) if k not in finished]
        return _result(existing, existing=True, report=_dispatch(rt, existing, unfinished)), existing
    return _result(existing, existing=True), existing


def _dispatch(rt: Runtime, manifest: RunManifest, shards: list[ShardRef]) -> DispatchReport:
    """Hand `shards` over, record those that could not be, then the dispatch record."""
    report = rt.dispatcher.dispatch(manifest, shards) if shards else DispatchReport()
    record_failures(rt.store, manifest.run_id, dispatch_failures(manifest.plan, report), rt.clock())
    write_record(rt.store, manifest.run_id, rt.clock(), len(shards))
    return report


def _result(
    manifest: RunManifest,
    *,
    existing: bool,
    report: DispatchReport | None = None,
    experiment: Experiment[Any] | None = None,
) -> SubmitResult:
    """`experiment` is given for a new run on Lambda: it gets an estimate and its warnings."""
    report = report or DispatchReport()
    settings = manifest.effective_settings()
    estimate = run_estimate(manifest, settings, experiment.secrets) if experiment and not existing else None
    return SubmitResult(
        run_id=manifest.run_id,
        points=manifest.plan.points_total,
        shards=manifest.plan.shard_count,
        shard_size=manifest.plan.shard_size,
        existing=existing,
        dispatched=report.dispatched,
        delegated=report.delegated,
        dispatch_failed=len(report.failed),
        # past prepare's check, this only ever answers warnings (refusals were raised there)
        warnings=run_warnings(estimate, settings, experiment) if estimate and experiment else [],
        estimate=estimate,
    )
