"""Point indexing: a bijection 0..N-1 -> points, in the documented order, for every form."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep_contracts.points import PointSpace, uniform
from sweep_contracts.request import parse_request

axis_values = st.lists(st.integers(-50, 50), min_size=1, max_size=4, unique=True)
axes = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), axis_values, min_size=1, max_size=3)


def space_of(**form: Any) -> PointSpace:
    request = parse_request({"experiment": "maze", "config": {"base": 1}, **form})
    return PointSpace(request, request.config)


@given(grids=st.lists(axes, min_size=1, max_size=3), repeats=st.integers(1, 3))
@settings(max_examples=75, deadline=None)
def test_grids_enumerate_like_product_with_repeats_innermost(grids: list[dict[str, list[int]]], repeats: int) -> None:
    # GIVEN several grids
    named = [{"name": f"g{i}", "axes": g} for i, g in enumerate(grids)]
    space = space_of(grids=named, repeats=repeats)
    # THEN the order is: series in order, itertools.product within (last axis fastest), repeats innermost
    expected = [
        (f"g{i}", dict(zip(g, combo, strict=True)), r)
        for i, g in enumerate(grids)
        for combo in itertools.product(*g.values())
        for r in range(repeats)
    ]
    got = [(p.series, dict(p.params), p.repeat) for p in (space.point(k) for k in range(space.size))]
    assert got == expected
    assert space.size == len(expected)


def test_grid_shorthand_is_series_grid() -> None:
    space = space_of(grid={"x": [1, 2], "y": ["a", "b", "c"]})
    assert [(p.series, p.params) for p in space.points(0, 4)] == [
        ("grid", {"x": 1, "y": "a"}),
        ("grid", {"x": 1, "y": "b"}),
        ("grid", {"x": 1, "y": "c"}),
        ("grid", {"x": 2, "y": "a"}),
    ]


def test_explicit_points_keep_list_order() -> None:
    space = space_of(points=[{"x": 3}, {"x": 1, "y": 2}], repeats=2)
    assert [(p.params, p.repeat, p.seed) for p in space.points(0, 4)] == [
        ({"x": 3}, 0, 0),
        ({"x": 3}, 1, 1),
        ({"x": 1, "y": 2}, 0, 0),
        ({"x": 1, "y": 2}, 1, 1),
    ]


def test_no_form_is_one_point_of_the_config() -> None:
    space = space_of(repeats=3)
    assert space.size == 3
    assert [space.effective_config(p) for p in space.points(0, 3)] == [
        {"base": 1, "seed": 0},
        {"base": 1, "seed": 1},
        {"base": 1, "seed": 2},
    ]


def test_effective_config_overlays_point_and_seed() -> None:
    request = parse_request(
        {"experiment": "maze", "config": {"size": 21, "seed": 100, "loops": 0.0}, "grid": {"size": [11]}, "repeats": 2}
    )
    space = PointSpace(request, request.config)
    assert [space.effective_config(p) for p in space.points(0, 2)] == [
        {"size": 11, "seed": 100, "loops": 0.0},
        {"size": 11, "seed": 101, "loops": 0.0},
    ]


def test_swept_seed_is_the_seed() -> None:
    space = space_of(grid={"seed": [7, 9]})
    assert [p.seed for p in space.points(0, 2)] == [7, 9]


@given(n=st.integers(1, 40), seed=st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_samples_are_deterministic_in_range_and_independent_per_axis(n: int, seed: int) -> None:
    space_spec = {"t": {"uniform": [0, 2]}, "k": {"randint": [1, 3]}, "c": {"choice": ["a", "b"]}}
    one = space_of(sample={"n": n, "seed": seed, "space": space_spec})
    # adding an axis does not change what the others draw
    more = space_of(sample={"n": n, "seed": seed, "space": {**space_spec, "z": {"loguniform": [1e-3, 1]}}})
    for k in range(n):
        a, b = one.point(k).params, more.point(k).params
        assert a == {key: b[key] for key in a}
        assert 0 <= a["t"] < 2
        assert a["k"] in (1, 2, 3)
        assert a["c"] in ("a", "b")
        assert 1e-3 <= b["z"] <= 1


def test_every_sample_point_draws_its_own_values() -> None:
    # GIVEN a sample of 20 points from a continuous distribution
    space = space_of(sample={"n": 20, "seed": 3, "space": {"t": {"uniform": [0, 1]}}})
    # THEN no two points share a value: each point's draw depends on its index
    assert len({p.params["t"] for p in space.points(0, 20)}) == 20
    assert uniform(3, 0, "t") != uniform(3, 1, "t")


def test_each_axis_draws_independently_of_the_others() -> None:
    # GIVEN two axes with the same distribution
    space = space_of(sample={"n": 20, "seed": 3, "space": {"a": {"uniform": [0, 1]}, "b": {"uniform": [0, 1]}}})
    pairs = [(p.params["a"], p.params["b"]) for p in space.points(0, 20)]
    # THEN they are not the same draw (perfectly correlated axes would be a silent bias)
    assert all(a != b for a, b in pairs)
    assert uniform(3, 0, "a") != uniform(3, 0, "b")


def test_sample_seed_changes_draws_and_uniform_is_stable() -> None:
    a = space_of(sample={"n": 3, "seed": 1, "space": {"t": {"uniform": [0, 1]}}})
    b = space_of(sample={"n": 3, "seed": 2, "space": {"t": {"uniform": [0, 1]}}})
    assert [p.params for p in a.points(0, 3)] != [p.params for p in b.points(0, 3)]
    # pinned: the counter-based draw is part of the contract (a rerun months later gets the same points)
    assert uniform(7, 0, "temperature") == pytest.approx(0.36746081762274363, abs=0)


def test_uniform_draws_are_spread() -> None:
    draws = [uniform(3, i, "x") for i in range(4000)]
    assert min(draws) >= 0
    assert max(draws) < 1
    assert 0.45 < sum(draws) / len(draws) < 0.55
    assert sum(d < 0.1 for d in draws) == pytest.approx(400, rel=0.2)


def test_index_outside_the_space_is_an_error() -> None:
    space = space_of(grid={"x": [1, 2]})
    with pytest.raises(IndexError, match=r"point index 2 is outside 0\.\.1"):
        space.point(2)


@pytest.mark.parametrize("index", [-1, 3, 10**6])
def test_every_index_past_either_end_is_an_error(index: int) -> None:
    # not only the one just past the end (mutation testing: `index < size` → `index != size` survived)
    space = space_of(grid={"x": [1, 2]})
    with pytest.raises(IndexError, match=rf"point index {index} is outside 0\.\.1"):
        space.point(index)


def test_indexing_is_direct_not_materialised() -> None:
    # 10^12 points: any enumeration would never finish
    space = space_of(grid={f"a{i}": list(range(10)) for i in range(12)})
    assert space.size == 10**12
    assert space.point(10**12 - 1).params == {f"a{i}": 9 for i in range(12)}
    assert space.point(123_456_789_012).params["a0"] == 1


def test_probes_cover_every_axis_value_once() -> None:
    space = space_of(grids=[{"name": "A", "axes": {"x": [1, 2, 3], "y": ["p", "q"]}}])
    probes = list(space.probes())
    values = {(axis, cfg[axis]) for _, _, axis, cfg in probes if axis}
    assert values == {("x", 2), ("x", 3), ("y", "q")}
    assert probes[0][3] == {"base": 1, "x": 1, "y": "p", "seed": 0}
    assert len(probes) == 1 + 2 + 1


def test_each_series_says_which_parameters_it_varies_and_how() -> None:
    grids = space_of(grids=[{"name": "A", "axes": {"x": [1, 2, 3], "y": ["p", "q"]}}])
    points = space_of(points=[{"x": 1}, {"x": 2, "y": 3}])
    sample = space_of(sample={"n": 3, "space": {"t": {"uniform": [0, 1]}, "k": {"choice": ["a"]}}})
    assert [s.axes for s in grids.series] == [{"x": "3 values", "y": "2 values"}]
    assert [s.axes for s in points.series] == [{"x": "set in 2 of 2 points", "y": "set in 1 of 2 points"}]
    assert [s.axes for s in sample.series] == [{"t": "uniform", "k": "choice"}]
    assert [s.axes for s in space_of().series] == [{}]
