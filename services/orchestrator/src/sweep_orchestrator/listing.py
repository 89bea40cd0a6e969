"""A run's shards as two listings show them, without reading an object: outcome keys say each
shard's status, points keys each execution's row counts (`layout.execution_tag`).

A shard's counts are told by the listing when the shard has exactly one points file and its key
carries counts. When it cannot tell — two files (a duplicate delivery in flight, an orphan a
cleanup has not removed), a success with no file listed, a key from before counts were in keys —
only the shard's outcome can say which file counts: the caller reads that one outcome, so the
reads grow with such anomalies, never with the run.

Each listing is split in blocks of 1,000 shards (`layout.block_prefix`), listed in parallel: a
block is one request when nothing is odd about it, so a 10,000-shard run costs 10 + 10 requests
at the latency of two. The failures are listed with the first block of the outcomes: their keys
sort before every success, so when none failed they cost nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sweep_contracts import layout
from sweep_contracts.layout import OutcomeStatus
from sweep_contracts.storage import ObjectInfo, ObjectStore

BLOCK = 1000
"""Shards a block holds: a ListObjectsV2 page's most keys."""
THREADS = 16
T = TypeVar("T")


@dataclass
class Listing:
    """What the listings of a run tell, shard by shard."""

    standing: dict[int, tuple[OutcomeStatus, ObjectInfo]] = field(default_factory=dict)
    """The standing outcome object of every shard that has one: a success wins over a stale failure."""
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    """(ok, error) points of the shards whose counts the listing tells."""

    def unknown(self) -> list[int]:
        """Shards with an outcome whose counts only the outcome can tell."""
        return [shard_id for shard_id in self.standing if shard_id not in self.counts]

    def failed(self) -> list[int]:
        return sorted(k for k, (status, _) in self.standing.items() if status == "failure")


def _blocks(shard_count: int | None) -> int:
    return max(1, -(-shard_count // BLOCK)) if shard_count is not None else 1


def _in_parallel(calls: list[Callable[[], T]]) -> list[T]:
    if len(calls) == 1:
        return [calls[0]()]
    with ThreadPoolExecutor(max_workers=min(THREADS, len(calls))) as pool:
        return list(pool.map(lambda call: call(), calls))


def _outcome_block(store: ObjectStore, run_id: str, block: int, blocks: int) -> list[ObjectInfo]:
    prefix = layout.outcomes_prefix(run_id)
    if blocks == 1:
        return list(store.list_info(prefix))
    if block > 0:
        return list(store.list_info(f"{prefix}status=success/{layout.block_prefix(block)}"))
    # the failures, then the first block's successes: stop at the block's last possible key, before
    # the listing asks for a page of the next block (which its own request lists)
    last = layout.outcome_key(run_id, "success", BLOCK - 1)
    found = []
    for info in store.list_info(prefix):
        if info.key > last:
            break
        found.append(info)
        if info.key == last:
            break
    return found


def standing_outcomes(
    store: ObjectStore, run_id: str, shard_count: int | None = None
) -> dict[int, tuple[OutcomeStatus, ObjectInfo]]:
    """The standing outcome object of every shard that has one: a success wins over a stale failure.
    Given the run's `shard_count`, its blocks are listed in parallel; without, in one listing."""
    blocks = _blocks(shard_count)
    pages = _in_parallel([partial(_outcome_block, store, run_id, b, blocks) for b in range(blocks)])
    cut = len(layout.outcomes_prefix(run_id))
    winners: dict[int, tuple[OutcomeStatus, ObjectInfo]] = {}
    for page in pages:
        for info in page:
            parsed = layout.outcome_in_run(info.key[cut:])
            if parsed is not None and (parsed[0] == "success" or parsed[1] not in winners):
                winners[parsed[1]] = (parsed[0], info)
    return winners


def _points_block(store: ObjectStore, run_id: str, block: int, blocks: int) -> list[ObjectInfo]:
    prefix = layout.points_prefix(run_id)
    return list(store.list_info(prefix if blocks == 1 else prefix + layout.block_prefix(block)))


@dataclass
class PointsFile:
    """A shard's only points file, as its listing shows it."""

    tag: str | None
    """Its execution tag (None for a pre-protocol file)."""
    modified: float


def points_files(store: ObjectStore, run_id: str, shard_count: int) -> tuple[dict[int, PointsFile], set[int]]:
    """The points file of each shard that has exactly one, and the shards with more than one (whose
    files are not kept: only the outcome tells which one counts)."""
    blocks = _blocks(shard_count)
    pages = _in_parallel([partial(_points_block, store, run_id, b, blocks) for b in range(blocks)])
    cut = len(layout.points_prefix(run_id))
    files: dict[int, PointsFile] = {}
    several: set[int] = set()
    for page in pages:
        for info in page:
            parsed = layout.points_in_run(info.key[cut:])
            if parsed is None:
                continue
            if parsed[0] in files:
                several.add(parsed[0])
            files[parsed[0]] = PointsFile(parsed[1], info.modified)
    return files, several


def list_shards(store: ObjectStore, run_id: str, shard_count: int) -> Listing:
    """Every shard with an outcome, from a listing of the outcomes and then of the points.

    In that order on purpose: a success is written after its points file and that file is never
    removed while the success stands, so a success listed first always finds its file listed; a
    failure that kept rows wrote them before its outcome, so one listed without a file has none.
    A failure's only file written after it is a retry's, in flight: its counts are not the
    failure's, so only the failure's outcome can tell them. (S3 lists times to the second: a retry
    whose file lands within the second its failure was written is counted with it until its success
    lands; a retry is dispatched, started and run after the failure, so that takes a sub-second shard.)"""
    listing = Listing(standing_outcomes(store, run_id, shard_count))
    files, several = points_files(store, run_id, shard_count)
    for shard_id, (status, outcome) in listing.standing.items():
        if shard_id in several:
            continue
        found = files.get(shard_id)
        if found is None:
            if status == "failure":
                listing.counts[shard_id] = (0, 0)  # most failures vouch for no rows
            continue
        if status == "failure" and found.modified > outcome.modified:
            continue
        counts = layout.tag_counts(found.tag) if found.tag is not None else None
        if counts is not None:
            listing.counts[shard_id] = counts
    return listing
