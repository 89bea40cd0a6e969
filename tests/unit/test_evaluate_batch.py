"""`Experiment.evaluate_batch` checks a whole batch of answers at once and, when any answer is not
plain finite floats, answer by answer, as `run` would be checked (issue 13)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from sweep_contracts.experiments import Experiment


class Config(BaseModel):
    i: int = 0


def batch_of(answers: list[Any]) -> Experiment[Config]:
    def run_batch(configs: Sequence[Config]) -> list[Any]:
        return [answers[c.i] for c in configs]

    return Experiment(name="b", config_model=Config, run=lambda c: answers[c.i], run_batch=run_batch)


def evaluate(answers: list[Any]) -> list[Any]:
    return batch_of(answers).evaluate_batch([Config(i=i) for i in range(len(answers))])


def test_plain_answers_come_back_as_copies() -> None:
    answers = [{"v": 1.0, "w": 2.5}, {"v": -0.0}]
    got = evaluate(answers)
    assert got == answers
    assert all(g is not a for g, a in zip(got, answers, strict=True))


@pytest.mark.parametrize(
    "odd",
    [float("nan"), float("inf"), -math.inf, "1.0", None, True],
)
def test_one_odd_value_fails_only_its_own_point(odd: Any) -> None:
    got = evaluate([{"v": 1.0}, {"v": odd}, {"v": 3.0}])
    assert got[0] == {"v": 1.0}
    assert got[2] == {"v": 3.0}
    if odd is True:  # a bool reads as a number, as `run`'s metrics do
        assert got[1] == {"v": 1.0}
    else:
        assert isinstance(got[1], Exception)


def test_integers_and_huge_finite_values_are_checked_one_by_one() -> None:
    # an int is converted as `run`'s would be; two huge finite floats overflow the batch's sum only
    got = evaluate([{"v": 1}, {"v": 1e308}, {"v": 1e308}])
    assert got == [{"v": 1.0}, {"v": 1e308}, {"v": 1e308}]
    assert type(got[0]["v"]) is float


def test_a_non_mapping_answer_fails_only_its_own_point() -> None:
    got = evaluate([{"v": 1.0}, [1.0], {1: 2.0}])
    assert got[0] == {"v": 1.0}
    assert isinstance(got[1], Exception)
