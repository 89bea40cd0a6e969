"""`Experiment.evaluate_batch` checks a whole batch of answers at once and, when any answer is not
plain finite floats, answer by answer, as `run` would be checked (issue 13)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from sweep_contracts.batch import ConfigBatch
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


def columns_of(answer: dict[str, Any]) -> Experiment[Config]:
    return Experiment(name="c", config_model=Config, run=lambda c: {}, run_batch=lambda configs: answer)


def answer(columns: dict[str, Any], count: int = 3) -> Any:
    return columns_of(columns).answer_batch([Config(i=i) for i in range(count)])


def test_metric_columns_of_finite_floats_stay_columns() -> None:
    import numpy as np

    got = answer({"v": [1.0, 2.0, -0.0], "w": np.array([0.5, 0.25, 1e300])})
    assert got.columns == {"v": [1.0, 2.0, -0.0], "w": [0.5, 0.25, 1e300]}
    assert all(type(x) is float for x in got.columns["w"])
    assert got.rows() == [{"v": 1.0, "w": 0.5}, {"v": 2.0, "w": 0.25}, {"v": -0.0, "w": 1e300}]


@pytest.mark.parametrize("odd", [float("nan"), math.inf, "1.0", None])
def test_an_odd_value_in_a_column_fails_only_its_own_point(odd: Any) -> None:
    got = answer({"v": [1.0, odd, 3.0], "w": [4.0, 5.0, 6.0]})
    assert got.columns is None
    rows = got.rows()
    assert rows[0] == {"v": 1.0, "w": 4.0}
    assert rows[2] == {"v": 3.0, "w": 6.0}
    assert isinstance(rows[1], Exception)


def test_integer_and_bool_columns_are_converted_as_runs_metrics_are() -> None:
    got = answer({"v": [1, True, 2**70]})
    assert got.rows() == [{"v": 1.0}, {"v": 1.0}, {"v": float(2**70)}]
    assert all(type(row["v"]) is float for row in got.rows())


@pytest.mark.parametrize(
    ("columns", "error"),
    [({"v": [1.0, 2.0]}, ValueError), ({"v": [1.0] * 4}, ValueError), ({1: [1.0] * 3}, TypeError)],
    ids=["short", "long", "name not text"],
)
def test_a_malformed_answer_raises_so_the_chunk_runs_point_by_point(columns: dict[Any, Any], error: type) -> None:
    with pytest.raises(error):
        answer(columns)


def test_no_metric_columns_are_empty_rows() -> None:
    assert answer({}).rows() == [{}, {}, {}]


def test_a_config_batch_gives_fields_as_columns_building_configs_only_when_asked() -> None:
    built: list[int] = []

    def build() -> list[Config]:
        built.append(1)
        return [Config(i=i) for i in (4, 5, 6)]

    batch = ConfigBatch(3, {"i": 0}, {"i": [4, 5, 6]}, build)
    assert batch.column("i") == [4, 5, 6]
    column = batch.column("i")
    column[0] = 99  # a copy: the batch keeps its own
    assert batch.column("i") == [4, 5, 6]
    with pytest.raises(AttributeError):
        batch.column("missing")
    assert built == []
    assert [c.i for c in batch] == [4, 5, 6]
    assert batch[1] == Config(i=5)
    assert batch[1:] == [Config(i=5), Config(i=6)]
    assert built == [1]
    constant = ConfigBatch(2, {"i": 7}, {}, lambda: [Config(i=7)] * 2)
    assert constant.column("i") == [7, 7]
    # a batch of built configs reads its columns from them
    of = ConfigBatch.of([Config(i=1), Config(i=2)])
    assert (len(of), of.column("i"), ConfigBatch.of(of) is of) == (2, [1, 2], True)
    with pytest.raises(AttributeError):
        of.column("missing")
