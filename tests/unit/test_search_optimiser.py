"""The optimiser of a search (issue 25): rebuilt from the journal's trials, it is told each trial
once, failures as FAIL, and asks the same trials for the same seed and results."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import optuna
import pytest

from sweep_contracts.errors import RequestError
from sweep_contracts.search import SearchManifest, SearchObjective, parse_search_request
from sweep_orchestrator.search.journal import TrialRecord
from sweep_orchestrator.search.optimiser import ask_round, importances, rebuild


def manifest(sampler: str = "tpe", seed: int = 0, **space: Any) -> SearchManifest:
    payload = {
        "experiment": "synthetic",
        "run_id": "opt-1",
        "config": {"noise": 0.0},
        "search": {
            "space": space or {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}},
            "sampler": sampler,
            "seed": seed,
            "budget": {"trials": 24},
            "batch": 4,
        },
    }
    request = parse_search_request(payload)
    return SearchManifest(
        run_id="opt-1",
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
        request=request,
        request_hash=request.content_hash(),
        objective=SearchObjective(metric="value", direction="max"),
    )


def told(search: SearchManifest, asked: dict[int, dict[str, Any]], round_number: int) -> list[TrialRecord]:
    """The asked trials as finished: value -(x-0.3)² - (y+0.2)², every third one failed."""
    records = []
    for number, params in asked.items():
        value = -((params["x"] - 0.3) ** 2) - (params.get("y", 0.0) + 0.2) ** 2
        failed = number % 3 == 2
        records.append(
            TrialRecord(number, round_number, params, "fail" if failed else "complete", None if failed else value)
        )
    return records


def run_rounds(search: SearchManifest, rounds: int) -> list[TrialRecord]:
    trials: list[TrialRecord] = []
    for r in range(rounds):
        trials += told(search, ask_round(search, trials, r), r)
    return trials


def test_the_same_seed_and_results_ask_the_same_trials_and_another_seed_others() -> None:
    first = run_rounds(manifest(seed=5), 4)
    again = run_rounds(manifest(seed=5), 4)
    other = run_rounds(manifest(seed=6), 4)
    assert [t.params for t in first] == [t.params for t in again]
    assert [t.params for t in first] != [t.params for t in other]
    assert [t.number for t in first] == list(range(16))


def test_the_rebuilt_study_is_told_each_trial_exactly_once_and_failures_as_fail() -> None:
    search = manifest()
    trials = run_rounds(search, 3)
    study = rebuild(search, trials, 3)
    got = [(t.user_attrs["number"], t.state, t.params) for t in study.trials]
    expected_state = {"complete": optuna.trial.TrialState.COMPLETE, "fail": optuna.trial.TrialState.FAIL}
    assert got == [(t.number, expected_state[t.state], t.params) for t in trials]


def test_running_trials_are_not_told() -> None:
    search = manifest()
    trials = run_rounds(search, 1)
    running = [TrialRecord(99, 1, {"x": 0.0, "y": 0.0}, "running")]
    assert len(rebuild(search, [*trials, *running], 1).trials) == len(trials)


def test_a_grid_search_never_revisits_a_point_across_rounds() -> None:
    search = manifest("grid", x={"choice": [0.1, 0.3, 0.5]}, y={"randint": [-2, 3]})  # 18 points
    trials = run_rounds(search, 4)  # 16 of them
    points = [(t.params["x"], t.params["y"]) for t in trials]
    assert len(set(points)) == len(points) == 16


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_search_moves_towards_the_optimum(sampler: str) -> None:
    search = manifest(sampler, seed=1)
    trials = run_rounds(search, 6)
    best = max(t.value for t in trials if t.value is not None)
    assert best > -0.05  # the optimum is 0 at (0.3, -0.2); a random point averages about -0.8


def test_importances_name_the_parameter_that_matters() -> None:
    search = manifest(x={"uniform": [-1, 1]}, z={"uniform": [-1, 1]})  # z does not enter the value
    found = importances(search, run_rounds(search, 6))
    assert set(found) == {"x", "z"}
    assert found["x"] > found["z"]


@pytest.mark.parametrize(
    ("sampler", "missing", "named"), [("cmaes", "cmaes", "cmaes"), ("gp", "torch", "torch and scipy")]
)
def test_a_sampler_whose_package_is_missing_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, sampler: str, missing: str, named: str
) -> None:
    # GIVEN a search whose sampler needs a package this environment lacks (None in sys.modules: the
    # import fails as it does where the package is not installed, whether or not it is here)
    monkeypatch.setitem(sys.modules, missing, None)
    # WHEN its first round is asked for THEN the error names the sampler, the package and the fix:
    # Optuna imports it only from round 1 on, so the search ran round 0 and then failed with a
    # ModuleNotFoundError
    with pytest.raises(RequestError) as raised:
        ask_round(manifest(sampler), [], 0)
    assert raised.value.field == "search.sampler"
    assert raised.value.value == sampler
    assert f"the `{sampler}` sampler needs {named}, not installed here." in str(raised.value)
    assert "`sampler: tpe`" in (raised.value.hint or "")
