"""A run's shards as two listings show them, without reading an object: outcome keys say each
shard's status, points keys each execution's row counts (`layout.execution_tag`).

A shard's counts are told by the listing when the shard has exactly one points file and its key
carries counts. When it cannot tell — two files (a duplicate delivery in flight, an orphan a
cleanup has not removed), a success with no file listed, a key from before counts were in keys —
only the shard's outcome can say which file counts: the caller reads that one outcome, so the
reads grow with such anomalies, never with the run."""

from __future__ import annotations

from dataclasses import dataclass

from sweep_contracts import layout
from sweep_contracts.layout import OutcomeStatus
from sweep_contracts.storage import ObjectInfo, ObjectStore


@dataclass(frozen=True)
class ListedShard:
    """A shard with an outcome: which outcome stands, and its points counts if the listing tells."""

    shard_id: int
    status: OutcomeStatus
    outcome: ObjectInfo
    counts: tuple[int, int] | None
    """(ok, error) points, or None when only the outcome can tell."""


def standing_outcomes(store: ObjectStore, run_id: str) -> dict[int, tuple[OutcomeStatus, ObjectInfo]]:
    """The standing outcome object of every shard that has one: a success wins over a stale failure."""
    winners: dict[int, tuple[OutcomeStatus, ObjectInfo]] = {}
    for info in store.list_info(layout.outcomes_prefix(run_id)):
        parsed = layout.parse_outcome_key(info.key)
        if parsed is None or parsed[0] != run_id:
            continue
        _, status, shard_id = parsed
        if status == "success" or shard_id not in winners:
            winners[shard_id] = (status, info)
    return winners


def points_tags(store: ObjectStore, run_id: str) -> dict[int, list[str | None]]:
    """The execution tag of every points file of the run, by shard (None for a pre-protocol file)."""
    tags: dict[int, list[str | None]] = {}
    for key in store.list(layout.points_prefix(run_id)):
        parsed = layout.parse_points_key(key)
        if parsed is not None and parsed[0] == run_id:
            tags.setdefault(parsed[1], []).append(parsed[2])
    return tags


def _counts(status: OutcomeStatus, tags: list[str | None]) -> tuple[int, int] | None:
    if len(tags) == 1 and tags[0] is not None:
        return layout.tag_counts(tags[0])
    if not tags and status == "failure":
        return (0, 0)  # most failures vouch for no rows; one that does left its file to list
    return None


def list_shards(store: ObjectStore, run_id: str) -> dict[int, ListedShard]:
    """Every shard with an outcome, from a listing of the outcomes and then of the points.

    In that order on purpose: a success is written after its points file and that file is never
    removed while the success stands, so a success listed first always finds its file listed."""
    standing = standing_outcomes(store, run_id)
    tags = points_tags(store, run_id)
    return {
        shard_id: ListedShard(shard_id, status, info, _counts(status, tags.get(shard_id, [])))
        for shard_id, (status, info) in sorted(standing.items())
    }
