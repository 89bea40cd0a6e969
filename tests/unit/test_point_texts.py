"""A shard's point texts (params, config_json, the config validated) computed from per-shard
constants are byte for byte what the point-by-point definition gives (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SEED, parse_request
from sweep_worker.texts import ShardTexts

SPECS: dict[str, dict[str, Any]] = {
    "flat grid": {"config": {"noise": 0.0}, "grid": {"x": [0.1, 1e-7, 3], "y": [-0.2, 1e16, 0.30000000000000004]}},
    "keys sort around the axes and seed": {
        "config": {"a": 1, "zeta": "z", "m": {"nested": [1, 2]}, "seed": 7},
        "grid": {"b": ["é", 'quote"d', ""], "t": [True, False, None], "w": [[1, "x"], {"k": 1}]},
        "repeats": 3,
    },
    "an axis replaces a config scalar": {"config": {"x": 5, "y": {"deep": 1}}, "grid": {"x": [1, 2], "y": [3]}},
    "an axis merges into a config mapping (general path)": {
        "config": {"optim": {"lr": 0.1, "momentum": 0.9}},
        "grid": {"optim": [{"lr": 0.2}, {"lr": 0.3}]},
    },
    "a dotted axis (general path)": {"config": {"optim": {"lr": 0.1, "m": 2}}, "grid": {"optim.lr": [0.2, 0.3]}},
    "a seed axis (general path)": {"config": {"c": 1}, "grid": {"seed": [3, 4], "z": [0, 1]}},
    "several grids": {
        "config": {"c": 1},
        "grids": [{"name": "A", "axes": {"p": [1, 2, 3]}}, {"name": "B", "axes": {"q": ["u", "v"], "p": [9]}}],
        "repeats": 2,
    },
    "a config without a seed": {"config": {"c": 1}, "grid": {"p": [1, 2]}, "repeats": 2},
    "explicit points": {"config": {"c": 1}, "points": [{"p": 1}, {"p": 2, "q": "x"}]},
    "samples": {"config": {"c": 1}, "sample": {"n": 5, "seed": 3, "space": {"u": {"uniform": [0, 1]}}}},
}


def expected(space: PointSpace, index: int, takes_seed: bool) -> tuple[Any, ...]:
    point = space.point(index)
    effective = space.effective_config(point)
    validated = effective if takes_seed else {k: v for k, v in effective.items() if k != SEED}
    texts = [param_text(v) for v in point.params.values()]
    return point.series, point.repeat, list(point.params), texts, canonical_json(effective), validated


@pytest.mark.parametrize("takes_seed", [True, False])
@pytest.mark.parametrize("name", list(SPECS))
def test_shard_texts_match_the_point_by_point_definition(name: str, takes_seed: bool) -> None:
    # GIVEN a sweep of one of many forms
    request = parse_request({"experiment": "synthetic", **SPECS[name]})
    space = PointSpace(request, request.config)
    texts = ShardTexts(space, takes_seed)
    for index in range(space.size):
        # WHEN a point's texts come from the shard's constants
        got = texts.texts(index)
        # THEN they equal the definition's, the config to validate in the same key order
        want = expected(space, index, takes_seed)
        assert got == want, index
        assert list(got[5]) == list(want[5])


def test_a_flat_grid_takes_the_constant_path() -> None:
    # GIVEN a flat grid (the shape the per-shard constants are for)
    request = parse_request({"experiment": "synthetic", **SPECS["keys sort around the axes and seed"]})
    texts = ShardTexts(PointSpace(request, request.config), takes_seed=True)
    # THEN no point goes through the general path
    texts._general = None  # type: ignore[assignment,method-assign]
    assert texts.texts(5)[4] == expected(texts.space, 5, True)[4]
