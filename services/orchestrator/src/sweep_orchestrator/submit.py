"""POST /runs, the pure part: validate → settings → plan → write manifest → dispatch → answer.

Everything that can reject a request runs before the manifest is written, so a rejected request
leaves nothing behind and dispatches nothing."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from sweep_contracts import layout
from sweep_contracts._json import canonical_json
from sweep_contracts.base import Frozen
from sweep_contracts.errors import LimitExceededError, RunConflictError, RunNotFoundError, StoreError
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest, RunPlan
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.planning import plan_shards
from sweep_contracts.points import PointSpace
from sweep_contracts.request import parse_request
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import ObjectStore
from sweep_contracts.version import code_version
from sweep_orchestrator.dispatch import Dispatcher, DispatchReport, all_shards, record_failures


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """The adapters the orchestrator works through: they differ locally and on Lambda."""

    store: ObjectStore
    dispatcher: Dispatcher
    settings: Callable[[], SystemSettings]
    registry: Registry = field(default_factory=Registry.default)
    clock: Callable[[], datetime] = _utcnow
    code_version: Callable[[], dict[str, str]] = code_version


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


def new_run_id(experiment: str, now: datetime) -> str:
    """`<experiment>-<yyyymmdd>-<hhmmss>-<4 hex>`: sortable by time, unique enough for a person."""
    slug = re.sub(r"[^a-z0-9-]+", "-", experiment.lower()).strip("-")[:36] or "run"
    return f"{slug}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def request_size(payload: Any) -> int:
    return len(canonical_json(payload).encode())


def prepare(payload: Any, rt: Runtime, *, request_bytes: int | None = None) -> RunManifest:
    """Validate and plan a request into the manifest it would get; writes nothing."""
    settings = rt.settings()
    if request_bytes is not None:
        _check_size(request_bytes, settings)
    request = parse_request(payload)
    if request_bytes is None:
        _check_size(request_size(request.model_dump(mode="json", exclude_none=True)), settings)
    experiment = rt.registry.get(request.experiment)
    space = PointSpace(request, request.config)
    plan = plan_shards(space.size, settings, request.shard_size)
    experiment.check_request(request, space)
    now = rt.clock()
    run_id = request.run_id or new_run_id(request.experiment, now)
    return RunManifest(
        run_id=run_id,
        created_at=now,
        request=request if request.run_id else request.model_copy(update={"run_id": run_id}),
        request_hash=RunManifest.hash_request(request),
        plan=RunPlan.build(plan, space),
        settings=settings.records(),
        code_version=rt.code_version(),
    )


def _check_size(size: int, settings: SystemSettings) -> None:
    if size > settings.max_request_bytes:
        raise LimitExceededError(
            f"the request is {size:,} bytes, over the limit of {settings.max_request_bytes:,}.",
            field="request",
            value=size,
            limit=settings.max_request_bytes,
            hint="every shard task carries the request: describe points with `grids` or `sample` "
            "rather than long `points` lists, or split the sweep into several runs.",
        )


def load_manifest(store: ObjectStore, run_id: str) -> RunManifest:
    data = store.get(layout.manifest_key(run_id))
    if data is None:
        raise RunNotFoundError(
            f"there is no run `{run_id}` in {store.uri}.",
            field="run_id",
            value=run_id,
            hint="list the runs with `sweep runs`, and check the results location (`--out` or `--stage`).",
        )
    manifest = RunManifest.from_json(data)
    if RunManifest.hash_request(manifest.request) != manifest.request_hash:
        raise StoreError(
            f"the manifest of run `{run_id}` does not match its own content hash: it was changed after it was written.",
            field="run_id",
            value=run_id,
            hint="manifests are written once; restore it from the bucket's object versions, or resubmit the run.",
        )
    return manifest


def submit_run(
    payload: Any,
    rt: Runtime,
    *,
    request_bytes: int | None = None,
) -> tuple[SubmitResult, RunManifest]:
    """Submit a run. Resubmitting a run_id with the same content answers with the existing run;
    with other content it is a conflict. The dispatcher decides how the shards are handed over
    (on Lambda, large runs go through its fan-out tree)."""
    manifest = prepare(payload, rt, request_bytes=request_bytes)
    if not rt.store.put_if_absent(layout.manifest_key(manifest.run_id), manifest.to_json()):
        existing = load_manifest(rt.store, manifest.run_id)
        if existing.request_hash != manifest.request_hash:
            raise RunConflictError(
                f"run `{manifest.run_id}` already exists with other content.",
                field="run_id",
                value=manifest.run_id,
                hint="choose a new `run_id`, or leave it out to have one generated; "
                "to rerun failed shards of the existing run, use `sweep retry`.",
            )
        return _result(existing, existing=True), existing
    report = rt.dispatcher.dispatch(manifest, all_shards(manifest))
    record_dispatch_failures(rt, manifest, report)
    return _result(manifest, existing=False, report=report), manifest


def record_dispatch_failures(
    rt: Runtime, manifest: RunManifest, report: DispatchReport, attempts: Mapping[int, int] | None = None
) -> None:
    """Give every shard that could not be dispatched its `DISPATCH_FAILED` outcome."""
    failures = (
        (k, (attempts or {}).get(k, 1), ErrorCode.DISPATCH_FAILED, msg) for k, msg in sorted(report.failed.items())
    )
    record_failures(rt.store, manifest.run_id, manifest.plan, failures, rt.clock())


def _result(manifest: RunManifest, *, existing: bool, report: DispatchReport | None = None) -> SubmitResult:
    report = report or DispatchReport()
    return SubmitResult(
        run_id=manifest.run_id,
        points=manifest.plan.points_total,
        shards=manifest.plan.shard_count,
        shard_size=manifest.plan.shard_size,
        existing=existing,
        dispatched=report.dispatched,
        delegated=report.delegated,
        dispatch_failed=len(report.failed),
    )
