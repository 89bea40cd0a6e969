"""The sweep request: what is accepted, and the exact errors for what is not."""

from __future__ import annotations

from typing import Any

import pytest

from sweep_contracts.errors import MissingConfigError, RequestError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.request import MISSING_CONFIG_HINT, SweepRequest, parse_request

BASE: dict[str, Any] = {"experiment": "maze", "config": {"size": 21}}


def error_of(payload: Any) -> RequestError:
    with pytest.raises(RequestError) as info:
        parse_request(payload)
    return info.value


def test_every_form_parses() -> None:
    # GIVEN one request per form, and one with no form at all
    forms = [
        {"grid": {"size": [11, 21]}},
        {"grids": [{"name": "A", "axes": {"size": [11]}}, {"name": "B", "axes": {"strategy": ["dfs-recall"]}}]},
        {"points": [{"size": 11}, {"size": 21, "strategy": "random-walk"}]},
        {"sample": {"n": 5, "seed": 1, "space": {"loops": {"uniform": [0, 1]}}}},
        {},
    ]
    # WHEN parsed THEN each names its form
    assert [parse_request({**BASE, **form}).form for form in forms] == ["grid", "grids", "points", "sample", None]


def test_missing_config_is_its_own_error_with_the_fix() -> None:
    error = error_of({"experiment": "maze", "grid": {"size": [11]}})
    assert isinstance(error, MissingConfigError)
    assert error.to_dict() == {
        "code": "MISSING_CONFIG",
        "message": "`config` is missing; every sweep needs its experiment config.",
        "field": "config",
        "hint": MISSING_CONFIG_HINT,
    }


def test_empty_config_is_refused_like_a_missing_one() -> None:
    error = error_of({"experiment": "maze", "config": {}})
    assert error.to_dict() == {
        "code": "MISSING_CONFIG",
        "message": "`config` is empty; every sweep needs its experiment config.",
        "field": "config",
        "value": {},
        "hint": MISSING_CONFIG_HINT,
    }


def test_unknown_field_suggests_the_known_one() -> None:
    error = error_of({**BASE, "gird": {"size": [1]}})
    assert error.code == "INVALID_REQUEST"
    assert error.field == "gird"
    assert error.problems[0].message == (
        "`gird` is not a known field; did you mean `grid`? (known fields: experiment, run_id, description, "
        "config, grid, grids, points, sample, repeats, shard_size, expected_point_s)"
    )


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            {**BASE, "run_id": "Bad_ID"},
            "run_id",
            "run_id 'Bad_ID' is not valid: it becomes part of storage keys, so use 3 to 63 lowercase letters, "
            "digits and `-`, starting with a letter or digit (e.g. `recall-study-1`)",
        ),
        (
            {**BASE, "grid": {"size": [11, 11]}},
            "grid",
            "axis `size` lists 11 twice; each value must appear once (use `repeats` to evaluate a point several times)",
        ),
        ({**BASE, "grid": {"size": []}}, "grid", "axis `size` has no values; give it at least one"),
        (
            {**BASE, "grid": {"size": [1]}, "points": [{"size": 2}]},
            "request",
            "give at most one of `grid`, `grids`, `points` or `sample`; this request has `grid` and `points` "
            "(to combine grids, list them all under `grids`)",
        ),
        (
            {**BASE, "grid": {"seed": [1, 2]}, "repeats": 3},
            "request",
            "`seed` is swept as a parameter and `repeats` > 1: both would set the seed; "
            "drop `repeats` or the `seed` axis",
        ),
        (
            {**BASE, "grids": [{"name": "A", "axes": {"x": [1]}}, {"name": "A", "axes": {"y": [1]}}]},
            "grids",
            "grid name `A` is used twice; grid names name series and must be unique",
        ),
        (
            {**BASE, "sample": {"n": 3, "space": {"t": {"unifrom": [0, 1]}}}},
            "sample.space.t",
            "unknown distribution `unifrom` (did you mean `uniform`?); use one of uniform, loguniform, randint, "
            "normal, choice",
        ),
        (
            {**BASE, "sample": {"n": 3, "space": {"t": {"loguniform": [0, 1]}}}},
            "sample.space.t",
            "`loguniform: [low, high]` needs low > 0; got 0",
        ),
        ({**BASE, "repeats": 0}, "repeats", "input should be greater than or equal to 1; got 0"),
        (
            {**BASE, "config": {"seed": "seven"}},
            "config",
            "`config.seed` must be an integer (the base of the repeat seeds); got 'seven'",
        ),
    ],
)
def test_bad_field_is_named_with_its_value_and_fix(payload: dict[str, Any], field: str, message: str) -> None:
    error = error_of(payload)
    assert (error.code, error.field, error.problems[0].message) == ("INVALID_REQUEST", field, message)
    assert error.hint is not None


def test_non_mapping_request_is_refused() -> None:
    error = error_of(["not", "a", "mapping"])
    assert (error.code, error.field) == ("INVALID_REQUEST", "request")


def test_nan_cannot_travel_in_config() -> None:
    error = error_of({**BASE, "config": {"size": float("nan")}})
    assert "NaN or infinity" in error.problems[0].message


def test_content_hash_ignores_run_id_and_key_order() -> None:
    a = parse_request({"experiment": "maze", "run_id": "one-1", "config": {"a": 1, "b": 2}, "grid": {"x": [1, 2]}})
    b = parse_request({"grid": {"x": [1, 2]}, "config": {"b": 2, "a": 1}, "experiment": "maze", "run_id": "two-2"})
    c = parse_request({"experiment": "maze", "config": {"a": 1, "b": 2}, "grid": {"x": [2, 1]}})
    assert RunManifest.hash_request(a) == RunManifest.hash_request(b)
    assert RunManifest.hash_request(a) != RunManifest.hash_request(c)


def test_request_round_trips_through_json() -> None:
    request = parse_request(
        {**BASE, "sample": {"n": 4, "space": {"t": {"normal": [0, 1]}, "k": {"choice": ["a", "b"]}}}, "repeats": 2}
    )
    again = SweepRequest.model_validate_json(request.model_dump_json())
    assert again == request
    assert again.model_dump(mode="json")["sample"]["space"] == {"t": {"normal": [0, 1]}, "k": {"choice": ["a", "b"]}}


def test_spec_is_the_points_part_only() -> None:
    request = parse_request({**BASE, "grid": {"size": [1, 2]}, "repeats": 3, "shard_size": 5})
    assert request.spec().model_dump(exclude_none=True) == {"grid": {"size": [1, 2]}, "repeats": 3}
