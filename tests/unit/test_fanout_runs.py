"""The fan-out message's shard list: (shard, attempt) pairs compressed into runs, and back."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from sweep_orchestrator.dispatch_task import from_runs, to_runs


def test_consecutive_shards_of_one_attempt_are_one_run() -> None:
    assert to_runs([(2, 1), (0, 1), (1, 1)]) == [(0, 3, 1)]


def test_a_gap_starts_a_new_run() -> None:
    # GIVEN shards 0 and 2 (not 1) of the same attempt; THEN two runs, so shard 1 is not dispatched
    assert to_runs([(0, 1), (2, 1)]) == [(0, 1, 1), (2, 3, 1)]


def test_a_different_attempt_starts_a_new_run() -> None:
    # GIVEN adjacent shards with different attempts; THEN each keeps its own attempt number
    assert to_runs([(0, 1), (1, 2), (2, 2)]) == [(0, 1, 1), (1, 3, 2)]


@given(refs=st.dictionaries(st.integers(0, 60), st.integers(1, 3), max_size=40))
@settings(max_examples=100, deadline=None)
def test_runs_round_trip_and_are_as_few_as_possible(refs: dict[int, int]) -> None:
    pairs = sorted(refs.items())
    runs = to_runs(pairs)
    assert from_runs(runs) == pairs
    # no two runs could have been merged: each next run has a gap or another attempt
    assert all(a[1] != b[0] or a[2] != b[2] for a, b in itertools.pairwise(runs))
