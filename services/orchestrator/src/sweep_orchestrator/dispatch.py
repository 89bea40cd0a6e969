"""Dispatch: handing shard tasks to workers. Adapters implement `Dispatcher`: a process pool
locally, async Lambda invokes in the cloud, a list in tests."""

from __future__ import annotations

import json
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

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


class TaskEvents(MutableSequence[dict[str, Any]]):
    """A list of task events kept as the JSON text a dispatcher would send, each parsed on its
    first read. Every task carries the run's whole spec (the seed principle), so parsing them all
    up front is quadratic in a grid's size: 10,000 one-point shards of a 10,000-value grid were
    0.5 GB of JSON and most of a test's 29 s, though tests read a few of them."""

    def __init__(self) -> None:
        self._items: list[str | dict[str, Any]] = []

    def add_json(self, text: str) -> None:
        self._items.append(text)

    def _load(self, index: int) -> dict[str, Any]:
        item = self._items[index]
        if isinstance(item, str):
            item = json.loads(item)
            assert isinstance(item, dict)
            self._items[index] = item
        return item

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._load(i) for i in range(*index.indices(len(self._items)))]
        return self._load(index)

    @overload
    def __setitem__(self, index: int, value: dict[str, Any]) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Any) -> None: ...
    def __setitem__(self, index: int | slice, value: Any) -> None:
        if isinstance(index, slice):
            self._items[index] = list(value)
        else:
            self._items[index] = value

    def __delitem__(self, index: int | slice) -> None:
        del self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def insert(self, index: int, value: dict[str, Any]) -> None:
        self._items.insert(index, value)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"TaskEvents({len(self)} events)"


class RecordingDispatcher:
    """Keeps the task events instead of sending them; tests feed them to the worker handler."""

    def __init__(self) -> None:
        self.events = TaskEvents()

    def dispatch(self, manifest: RunManifest, shards: Sequence[ShardRef]) -> DispatchReport:
        factory = manifest.task_factory()
        for shard_id, attempt in shards:
            self.events.add_json(factory.event_json(shard_id, attempt))
        return DispatchReport(dispatched=len(shards))
