"""Shard planning: contiguous ranges covering every index once, sizes derived from settings, caps."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sweep_contracts.errors import LimitExceededError
from sweep_contracts.planning import ShardPlan, derive_shard_size, plan_shards
from sweep_contracts.settings import SystemSettings

DEFAULTS = SystemSettings.resolve({}, source="default")


@given(points=st.integers(1, 99_999), size=st.one_of(st.none(), st.integers(1, 50_000)))
@settings(max_examples=200, deadline=None)
def test_shards_cover_every_index_exactly_once(points: int, size: int | None) -> None:
    roomy = SystemSettings.resolve({"max_shards": 99_999}, source="default")
    plan = plan_shards(points, roomy, size)
    ranges = list(plan.shards())
    assert ranges[0].start == 0
    assert ranges[-1].stop == points
    assert all(a.stop == b.start for a, b in itertools.pairwise(ranges))
    assert all(0 < r.size <= plan.shard_size for r in ranges)
    assert [r.shard_id for r in ranges] == list(range(plan.shard_count))


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (1, 1),  # one point, one shard
        (20, 1),  # fewer points than min_shards: one point per shard
        (500, 16),  # small sweep: spread over min_shards=32
        (200_000, 100),  # default shard_size caps the size
        (10_000_000, 1_000),  # max_shards forces bigger shards
    ],
)
def test_derived_shard_size(points: int, expected: int) -> None:
    roomy = SystemSettings.resolve({"max_points": 10_000_000}, source="default")
    assert derive_shard_size(points, roomy) == expected
    assert plan_shards(points, roomy).shard_size_source == "derived"


def test_requested_shard_size_wins_and_is_clamped_to_the_sweep() -> None:
    assert plan_shards(1000, DEFAULTS, 7).shard_size == 7
    assert plan_shards(10, DEFAULTS, 50).shard_size == 10


def test_too_many_points_names_the_cap_and_the_fix() -> None:
    with pytest.raises(LimitExceededError) as info:
        plan_shards(1_000_001, DEFAULTS)
    assert info.value.to_dict() == {
        "code": "LIMIT_EXCEEDED",
        "message": "the sweep has 1,000,001 points, over the limit of 1,000,000.",
        "field": "points",
        "value": 1_000_001,
        "limit": 1_000_000,
        "hint": "split it into several runs (fewer axis values or repeats), "
        "or raise `max_points` in the stage settings.",
    }
    assert info.value.http_status == 413


def test_too_many_shards_says_which_shard_size_fits() -> None:
    with pytest.raises(LimitExceededError) as info:
        plan_shards(100_000, DEFAULTS, 5)
    assert info.value.to_dict() == {
        "code": "LIMIT_EXCEEDED",
        "message": "`shard_size` 5 splits 100,000 points into 20,000 shards, over the limit of 10,000.",
        "field": "shard_size",
        "value": 5,
        "limit": 10_000,
        "hint": "use `shard_size` of at least 10, or leave it out to have one derived.",
    }


def test_planning_ten_million_points_takes_constant_memory() -> None:
    big = SystemSettings.resolve({"max_points": 10_000_000}, source="default")
    tracemalloc.start()
    plan = plan_shards(10_000_000, big)
    last = plan.shard(plan.shard_count - 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (plan.shard_count, last.stop) == (10_000, 10_000_000)
    assert peak < 64 * 1024  # the plan is three integers, whatever the size


@pytest.mark.parametrize("shard_id", [-1, 2, 3])
def test_shard_outside_the_plan_is_an_error(shard_id: int) -> None:
    # GIVEN a plan of 2 shards; WHEN asked for one outside 0..1; THEN an error that names the range
    with pytest.raises(IndexError) as caught:
        plan_shards(10, DEFAULTS, 5).shard(shard_id)
    assert str(caught.value) == f"shard {shard_id} is outside 0..1"


@pytest.mark.parametrize("field", ["points_total", "shard_size", "shard_count"])
def test_a_plan_of_zero_is_refused(field: str) -> None:
    # a plan travels in every task: shards of 0 points would never end (mutation testing: `ge=1` →
    # `ge=0` on shard_size survived)
    counts = {"points_total": 4, "shard_size": 2, "shard_count": 2} | {field: 0}
    with pytest.raises(ValidationError, match=field):
        ShardPlan(**counts)
