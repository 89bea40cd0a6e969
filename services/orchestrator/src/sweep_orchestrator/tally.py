"""A run's standing outcomes added up, from its listings and the few outcomes read: what its status
needs, without an object per shard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import Outcome
from sweep_orchestrator.listing import Listing


@dataclass
class Tally:
    """Shards with a standing outcome whose counts are known, added up."""

    counted: set[int] = field(default_factory=set)
    success: int = 0
    points_ok: int = 0
    points_error: int = 0
    failed: list[int] = field(default_factory=list)
    first_recorded: float | None = None
    last_recorded: float | None = None

    @property
    def done(self) -> int:
        return len(self.counted)

    @classmethod
    def of(cls, manifest: RunManifest, listing: Listing, read: Mapping[int, Outcome]) -> Tally:
        """Each shard's counts from the outcome read for it, else from the listing. A shard whose
        counts neither tells (its outcome gone since the listing: a retry is rewriting it) stays
        pending for this poll; one outside the plan (no key sweep writes) is left out."""
        tally = cls()
        times: list[float] = []
        for shard_id, (status, info) in listing.standing.items():
            outcome = read.get(shard_id)
            counts = (outcome.points_ok, outcome.points_failed) if outcome is not None else listing.counts.get(shard_id)
            if counts is None or shard_id >= manifest.plan.shard_count:
                continue
            tally.counted.add(shard_id)
            tally.points_ok += counts[0]
            tally.points_error += counts[1]
            if status == "success":
                tally.success += 1
            else:
                tally.failed.append(shard_id)
            times.append(info.modified)
        tally.failed.sort()
        tally.first_recorded = min(times, default=None)
        tally.last_recorded = max(times, default=None)
        return tally

    def pending(self, shard_count: int, limit: int) -> list[int]:
        """The first `limit` shards of the plan without a standing outcome."""
        found: list[int] = []
        for shard_id in range(shard_count):
            if len(found) >= limit:
                break
            if shard_id not in self.counted:
                found.append(shard_id)
        return found
