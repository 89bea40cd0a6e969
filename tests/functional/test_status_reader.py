"""Reading a run's outcomes: what a reader remembers belongs to it and to its one store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sweep_contracts import layout
from sweep_contracts.outcomes import Outcome, record_outcome
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.runs import ManifestCache, delete_run, load_manifest
from sweep_orchestrator.status import OutcomeReader, run_status
from sweep_orchestrator.submit import submit_run
from tests.helpers import FIXED_NOW, runtime_for

SWEEP: dict[str, Any] = {
    "experiment": "maze",
    "run_id": "maze-1",
    "config": {"size": 9, "max_moves": 300},
    "grid": {"size": [5, 7, 9, 11]},
    "repeats": 2,
}


def _store_with_outcome(points_ok: int) -> MemoryStore:
    """A store holding run `maze-1` (8 points, one shard) and one success outcome for it."""
    store = MemoryStore()
    submit_run(SWEEP, runtime_for(store)[0])
    record_outcome(store, _success(points_ok))
    return store


def _success(points_ok: int) -> Outcome:
    return Outcome(
        run_id="maze-1",
        shard_id=0,
        status="success",
        points_total=8,
        points_ok=points_ok,
        points_failed=8 - points_ok,
        started_at=FIXED_NOW,
        finished_at=FIXED_NOW + timedelta(seconds=1),
        duration_ms=1000.0,
    )


def test_two_stores_with_the_same_keys_never_read_each_others_outcomes_issue_7() -> None:
    # GIVEN two in-memory stores (same uri, same keys, same version tags) with different outcomes
    first, second = _store_with_outcome(points_ok=5), _store_with_outcome(points_ok=1)
    # WHEN the status of each is read, the first one first
    counts = [run_status(store, "maze-1").points_ok for store in (first, second)]
    # THEN each store's own outcome is counted
    assert counts == [5, 1]


def test_two_readers_never_share_what_they_remember_issue_7() -> None:
    # GIVEN a reader per store, each of which has already read its store once
    first, second = _store_with_outcome(points_ok=5), _store_with_outcome(points_ok=1)
    readers = [OutcomeReader(first), OutcomeReader(second)]
    for reader in readers:
        reader.status("maze-1")
    # WHEN both poll again
    counts = [reader.status("maze-1").points_ok for reader in readers]
    # THEN each still reports its own store
    assert counts == [5, 1]


def test_a_reader_rereads_only_the_outcomes_that_changed() -> None:
    # GIVEN a reader that has read a run's outcome once
    store = _store_with_outcome(points_ok=5)
    reader = OutcomeReader(store)
    assert reader.status("maze-1").points_ok == 5
    key = layout.outcome_key("maze-1", "success", 0)
    # WHEN it polls again with nothing changed
    store.calls.clear()
    assert reader.status("maze-1").points_ok == 5
    # THEN it lists the outcomes but gets none of them again
    assert ("get", key) not in store.calls
    # WHEN the object is rewritten (a new version tag; sweep never replaces a success, but the
    # cache must not depend on that)
    rewritten = _success(points_ok=7)
    store.put(rewritten.key, rewritten.to_parquet())
    store.calls.clear()
    # THEN the next poll reads the new one
    assert reader.status("maze-1").points_ok == 7
    assert ("get", key) in store.calls


def test_a_cached_manifest_is_read_once_and_cannot_be_changed_by_a_caller_issue_11() -> None:
    # GIVEN a run, and the manifest cache of a warm orchestrator that has loaded it once
    store = _store_with_outcome(points_ok=5)
    cache = ManifestCache(store)
    first = cache.load("maze-1")
    store.calls.clear()
    # WHEN a caller changes what it got (its dicts are mutable), and a retry changes its settings
    first.request.config["size"] = 99
    retry_run(runtime_for(store)[0], "maze-1", {"shard_time_budget_s": 5})
    store.calls.clear()
    again = cache.load("maze-1")
    # THEN the next load did not read the store, and gives the manifest as stored
    assert ("get", layout.manifest_key("maze-1")) not in store.calls
    assert again == load_manifest(store, "maze-1")
    assert again.request.config["size"] == 9
    assert again.settings["shard_time_budget_s"]["source"] == "default"


def test_a_run_removed_and_submitted_again_shows_once_its_cache_entry_expires_issue_11() -> None:
    # GIVEN a cached manifest, and a clock the test moves
    store = _store_with_outcome(points_ok=5)
    now = [0.0]
    cache = ManifestCache(store, max_age_s=600, clock=lambda: now[0])
    assert cache.load("maze-1").request.config["max_moves"] == 300
    # WHEN the run is removed and its run_id submitted again with other content
    delete_run(store, "maze-1")
    submit_run({**SWEEP, "config": {"size": 9, "max_moves": 400}}, runtime_for(store)[0])
    # THEN the entry is trusted until it expires, and the run as it is now is read after that
    now[0] = 599.0
    assert cache.load("maze-1").request.config["max_moves"] == 300
    now[0] = 600.0
    assert cache.load("maze-1").request.config["max_moves"] == 400


def test_the_manifest_cache_keeps_at_most_its_limit() -> None:
    # GIVEN a cache of one entry that has loaded run `maze-1`
    store = _store_with_outcome(points_ok=5)
    submit_run({**SWEEP, "run_id": "maze-2"}, runtime_for(store)[0])
    cache = ManifestCache(store, limit=1)
    cache.load("maze-1")
    # WHEN another run is loaded, then the first again
    cache.load("maze-2")
    store.calls.clear()
    cache.load("maze-1")
    # THEN the first had been let go and is read again
    assert ("get", layout.manifest_key("maze-1")) in store.calls
