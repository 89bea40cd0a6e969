"""Shard planning: contiguous index ranges, O(1) to describe and O(shards) to enumerate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import Field

from sweep_contracts.base import Frozen
from sweep_contracts.errors import LimitExceededError
from sweep_contracts.settings import SystemSettings


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class ShardRange:
    """Shard `shard_id` holds point indices `start..stop-1`."""

    shard_id: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


class ShardPlan(Frozen):
    """`shard_count` shards of `shard_size` points (the last may be shorter)."""

    points_total: int = Field(ge=1)
    shard_size: int = Field(ge=1)
    shard_count: int = Field(ge=1)
    shard_size_source: str = "request"

    def shard(self, shard_id: int) -> ShardRange:
        if not 0 <= shard_id < self.shard_count:
            raise IndexError(f"shard {shard_id} is outside 0..{self.shard_count - 1}")
        start = shard_id * self.shard_size
        return ShardRange(shard_id, start, min(start + self.shard_size, self.points_total))

    def shards(self) -> Iterator[ShardRange]:
        for shard_id in range(self.shard_count):
            yield self.shard(shard_id)


def derive_shard_size(points_total: int, settings: SystemSettings) -> int:
    """At most `shard_size` points per shard, spread over at least `min_shards` shards, and
    never more than `max_shards` shards: max(ceil(N/max_shards), min(shard_size, ceil(N/min_shards)))."""
    spread = min(settings.shard_size, _ceil_div(points_total, settings.min_shards))
    return max(_ceil_div(points_total, settings.max_shards), spread, 1)


def plan_shards(points_total: int, settings: SystemSettings, shard_size: int | None = None) -> ShardPlan:
    """Plan the shards of a run of `points_total` points, enforcing the caps in `settings`."""
    if points_total > settings.max_points:
        raise LimitExceededError(
            f"the sweep has {points_total:,} points, over the limit of {settings.max_points:,}.",
            field="points",
            value=points_total,
            limit=settings.max_points,
            hint="split it into several runs (fewer axis values or repeats), "
            "or raise `max_points` in the stage settings.",
        )
    if shard_size is None:
        size, source = derive_shard_size(points_total, settings), "derived"
    else:
        size, source = min(shard_size, points_total), "request"
    count = _ceil_div(points_total, size)
    if count > settings.max_shards:
        needed = _ceil_div(points_total, settings.max_shards)
        raise LimitExceededError(
            f"`shard_size` {shard_size} splits {points_total:,} points into {count:,} shards, "
            f"over the limit of {settings.max_shards:,}.",
            field="shard_size",
            value=shard_size,
            limit=settings.max_shards,
            hint=f"use `shard_size` of at least {needed:,}, or leave it out to have one derived.",
        )
    return ShardPlan(points_total=points_total, shard_size=size, shard_count=count, shard_size_source=source)
