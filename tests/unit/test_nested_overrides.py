"""Nested configs and command-line overrides: dotted names reach nested keys, mappings merge."""

from __future__ import annotations

from typing import Any

import pytest

from sweep_cli.errors import SweepFileError
from sweep_cli.overrides import apply_overrides
from sweep_contracts.errors import RequestError
from sweep_contracts.points import PointSpace, overlay
from sweep_contracts.request import parse_request

BASE: dict[str, Any] = {
    "experiment": "synthetic",
    "config": {"optim": {"lr": 0.1, "momentum": 0.9}, "size": 21},
    "grid": {"optim.lr": [0.01, 0.001]},
}


def test_a_dotted_axis_sets_a_nested_key_and_keeps_its_siblings() -> None:
    # GIVEN a config with a nested `optim` and an axis `optim.lr`
    space = PointSpace(parse_request(BASE), BASE["config"])
    # WHEN the points' effective configs are built
    configs = [space.effective_config(p) for p in space.points(0, 2)]
    # THEN each sets optim.lr and keeps optim.momentum; the request's config is untouched
    assert [c["optim"] for c in configs] == [{"lr": 0.01, "momentum": 0.9}, {"lr": 0.001, "momentum": 0.9}]
    assert BASE["config"]["optim"] == {"lr": 0.1, "momentum": 0.9}


def test_a_mapping_valued_axis_merges_instead_of_replacing() -> None:
    # GIVEN the bug of the issue: an axis `optim: {lr: …}` dropped optim.momentum
    merged = overlay({"optim": {"lr": 0.1, "momentum": 0.9}}, {"optim": {"lr": 0.5}})
    # THEN the mapping merges into the config's
    assert merged == {"optim": {"lr": 0.5, "momentum": 0.9}}


def test_a_dotted_axis_through_a_scalar_is_refused_at_submit_naming_the_path() -> None:
    # GIVEN `optim` is a number in the config, and an axis reaches inside it
    request = parse_request({**BASE, "config": {"optim": 0.1}})
    # WHEN the point space is built (at submit)
    with pytest.raises(RequestError) as caught:
        PointSpace(request, request.config)
    # THEN the error names the full dotted path and the value in the way
    assert caught.value.field == "optim.lr"
    assert "`optim` is 0.1, not a mapping" in caught.value.message


def test_overrides_are_typed_like_yaml_and_merge_into_nested_config() -> None:
    # WHEN a user types overrides on the command line
    result = apply_overrides(
        BASE,
        [
            "config.optim.momentum=0.5",
            "config.temperature=1e-3",
            "grid.size=[11, 21]",
            "repeats=3",
            "grid.optim.lr=[1]",
        ],
    )
    # THEN values are typed (float, list, int), nested keys merge, dotted axis names stay whole
    assert result["config"] == {"optim": {"lr": 0.1, "momentum": 0.5}, "size": 21, "temperature": 0.001}
    assert result["grid"] == {"optim.lr": [1], "size": [11, 21]}
    assert result["repeats"] == 3
    assert BASE["config"]["optim"]["momentum"] == 0.9  # the file's request is not changed


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("temperature", "--set temperature: an override is `PATH=VALUE`."),
        ("temperature=0.3", "--set temperature=0.3: `temperature` is not a field of a sweep request."),
        ("config.size.x=1", "--set config.size.x=1: `config.size` is 21 in the sweep file, not a mapping"),
        ("grids.B.size=[1]", "--set grids.B.size=[1]: there is no grid named `B`."),
        ("grid.size=[1", "--set grid.size=[1: the value '[1' is not a YAML value"),
    ],
)
def test_a_bad_override_names_itself_and_the_fix(item: str, message: str) -> None:
    with pytest.raises(SweepFileError) as caught:
        apply_overrides(BASE, [item])
    assert caught.value.field == "--set"
    assert caught.value.message.startswith(message)
    assert caught.value.hint
