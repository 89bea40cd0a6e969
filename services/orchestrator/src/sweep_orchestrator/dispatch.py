"""Dispatch: handing shard tasks to workers. Adapters implement `Dispatcher`: a process pool
locally, async Lambda invokes in the cloud, a list in tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sweep_contracts.manifest import RunManifest

ShardRef = tuple[int, int]
"""(shard_id, attempt)."""


@dataclass
class DispatchReport:
    """What a dispatch did: shards handed over, shards that could not be, shards handed on to
    other dispatchers (the fan-out tree), which report their own failures."""

    dispatched: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    delegated: int = 0


class Dispatcher(Protocol):
    """Hands the tasks of `shards` of a run to workers, without waiting for them to finish."""

    def dispatch(self, manifest: RunManifest, shards: Sequence[ShardRef]) -> DispatchReport: ...


def all_shards(manifest: RunManifest) -> list[ShardRef]:
    return [(shard_id, 1) for shard_id in range(manifest.plan.shard_count)]


class RecordingDispatcher:
    """Keeps the task events instead of sending them; tests feed them to the worker handler."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def dispatch(self, manifest: RunManifest, shards: Sequence[ShardRef]) -> DispatchReport:
        factory = manifest.task_factory()
        self.events.extend(factory.event(shard_id, attempt) for shard_id, attempt in shards)
        return DispatchReport(dispatched=len(shards))
