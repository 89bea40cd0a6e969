"""`sweep retry` and resubmitting a run whose dispatch never finished tell the shards apart from the
outcome listing, as status does, and read only the failures (for the attempt each was at): their
reads grow with what failed, not with the run (issue 11, item 5)."""

from __future__ import annotations

from sweep_contracts import layout
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.submit import submit_run
from tests.big_run import RUN, submit_big, sweep, write_outcomes
from tests.helpers import runtime_for

SHARDS = 300
FAILURES = 20


def _outcome_reads(store: MemoryStore) -> list[str]:
    return [key for call, key in store.calls if call == "get" and key.startswith(layout.OUTCOMES)]


def test_a_retry_reads_only_the_failed_shards_outcomes_issue_11() -> None:
    # GIVEN a finished run of 300 shards, 20 of them failed
    store = MemoryStore()
    write_outcomes(store.put, submit_big(store, SHARDS), failures=FAILURES)
    rt, dispatcher = runtime_for(store)
    store.calls.clear()
    # WHEN it is retried
    result = retry_run(rt, RUN)
    # THEN it read the 20 failures' outcomes and no success's
    reads = _outcome_reads(store)
    assert len(reads) == FAILURES, reads[:5]
    assert all("/status=failure/" in key for key in reads)
    # AND re-dispatched exactly the failed shards, each at its next attempt
    failed = {k * SHARDS // FAILURES for k in range(FAILURES)}
    assert (result.failed, result.missing, result.dispatched) == (FAILURES, 0, FAILURES)
    assert sorted((e["shard_id"], e["attempt"]) for e in dispatcher.events) == [(k, 2) for k in sorted(failed)]


def test_resubmitting_a_run_whose_dispatch_never_finished_reads_no_outcome_issue_11() -> None:
    # GIVEN a run of 300 shards whose dispatch died midway: 5 shards have no outcome, and there is
    # no dispatch record
    store = MemoryStore()
    write_outcomes(store.put, submit_big(store, SHARDS))
    for shard_id in range(5, 10):
        store.delete(layout.outcome_key(RUN, "success", shard_id))
    store.delete(layout.dispatch_key(RUN))
    rt, dispatcher = runtime_for(store)
    store.calls.clear()
    # WHEN the same request is submitted again
    result, _ = submit_run(sweep(SHARDS), rt)
    # THEN it listed the outcomes and read none of them
    assert _outcome_reads(store) == []
    # AND it handed over exactly the shards without an outcome
    assert result.existing
    assert sorted(e["shard_id"] for e in dispatcher.events) == list(range(5, 10))
