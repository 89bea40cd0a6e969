"""The `search:` block of a sweep file (issue 25): what it accepts, and errors that name the field,
the value and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from sweep_contracts.errors import RequestError
from sweep_contracts.search import (
    SearchRequest,
    parse_search_request,
    round_run_id,
    trial_number,
    trial_series,
)


def request(**search: Any) -> dict[str, Any]:
    block = {"space": {"x": {"uniform": [-1, 1]}}, "budget": {"trials": 8}, "batch": 4, **search}
    return {"experiment": "synthetic", "run_id": "search-1", "config": {"noise": 0.0}, "search": block}


def test_a_search_block_with_every_field_parses() -> None:
    # GIVEN a search with categorical and integer axes, a sampler, objective, budget and nuisance axes
    parsed = parse_search_request(
        {
            **request(
                space={"x": {"uniform": [-1, 1]}, "kind": {"choice": ["a", "b"]}, "n": {"randint": [1, 9]}},
                sampler="random",
                seed=7,
                objective={"metric": "distance", "direction": "min"},
                budget={"trials": 10, "time_s": 60},
                batch=4,
                average_over={"task_index": [0, 1, 2]},
            ),
            "repeats": 2,
        }
    )
    # THEN it plans 3 rounds (4, 4, 2 trials) of 6 points per trial
    spec = parsed.search
    assert (spec.rounds, [spec.round_size(r) for r in range(4)], parsed.trial_points) == (3, [4, 4, 2, 0], 6)


def test_a_round_is_a_run_whose_grids_carry_each_trial_config() -> None:
    parsed = parse_search_request(request(average_over={"task_index": [0, 1]}))
    round_request = parsed.round_request("search-1", 2, {9: {"x": 0.25}, 8: {"x": -0.5}})
    assert round_request.run_id == "search-1-r002"
    assert [(g.name, g.axes) for g in round_request.grids or ()] == [
        ("t00008", {"x": [-0.5], "task_index": [0, 1]}),
        ("t00009", {"x": [0.25], "task_index": [0, 1]}),
    ]
    assert (round_request.config, round_request.shard_size) == ({"noise": 0.0}, 2)  # one shard per trial


def test_names_of_rounds_and_trials() -> None:
    assert (round_run_id("s-1", 0), trial_series(12), trial_number("t00012"), trial_number("grid")) == (
        "s-1-r000",
        "t00012",
        12,
        None,
    )


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            request(space={"x": {"normal": [0, 1]}}),
            "search.space",
            "`search.space`: axis `x`: `normal` is unbounded and a search needs a bounded range; use "
            "`uniform: [low, high]` (or `loguniform`).",
        ),
        (
            request(batch=9),
            "search",
            "`search`: `batch` 9 is larger than the budget of 8 trials; set `batch` to at most 8.",
        ),
        (
            request(sampler="grid"),
            "search",
            "`search`: the `grid` sampler needs finite axes (`choice` or `randint`); axis `x` is `uniform`: "
            "list its values with `choice`, or use `tpe`.",
        ),
        (
            request(average_over={"x": [1, 2]}),
            "search",
            "`search`: axis `x` is both searched (`space`) and averaged over (`average_over`); keep it in one.",
        ),
        (
            request(sampler="bayes"),
            "search.sampler",
            "`search.sampler`: input should be 'tpe', 'random', 'grid', 'cmaes' or 'gp'; got 'bayes'.",
        ),
        (
            request(budget={"trials": 5000}, batch=1),
            "search",
            "`search`: 5000 trials in batches of 1 take 5000 rounds, over the limit of 999; raise `batch` to at "
            "least 6.",
        ),
        (
            {**request(), "run_id": "a" * 60},
            "run_id",
            f"`run_id`: run_id '{'a' * 60}' is not valid for a search: use 3 to 58 lowercase letters, digits and "
            "`-`, starting with a letter or digit (each round is run `<run_id>-r<nnn>`).",
        ),
    ],
)
def test_bad_search_blocks_name_the_field_and_the_fix(payload: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_search_request(payload)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_a_search_with_a_grid_is_refused_with_where_its_axes_go() -> None:
    with pytest.raises(RequestError) as caught:
        parse_search_request({**request(), "grid": {"y": [0, 1]}})
    error = caught.value
    assert (error.field, error.value, error.message, error.hint) == (
        "grid",
        {"y": [0, 1]},
        "`grid`: a search has its axes under `search.space`; it cannot also have `grid`.",
        "move the searched axes into `search.space` and the axes to average over into `search.average_over`, "
        "or drop `search` to run a fixed sweep.",
    )


def test_the_content_hash_ignores_the_name() -> None:
    a = SearchRequest.model_validate(request())
    b = SearchRequest.model_validate({**request(), "run_id": "other-name"})
    assert a.content_hash() == b.content_hash()
