"""The end-of-run summary query against the same answer computed by hand, over generated runs:
ties, point errors, points without the metric, repeats, and repeats whose first row is missing
(its shard failed and kept none). The query was restructured for speed (issue 13): the answers
must not move."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from typing import Any

import duckdb
import pytest

from sweep_cli.results.query import summary_sql

Row = tuple[str, int, str, dict[str, str], float | None]


def generated(seed: int, repeats: int) -> list[Row]:
    rng = random.Random(seed)
    rows: list[Row] = []
    index = 0
    for series in ("grid", "sample", "all-errors")[: rng.randint(1, 3)]:
        for point in range(rng.randint(1, 12)):
            for _ in range(repeats):
                status = "error" if series == "all-errors" or rng.random() < 0.15 else "ok"
                metric = None if status == "error" or rng.random() < 0.05 else float(rng.choice([0.0, 0.5, 1.0, 2.0]))
                if rng.random() > 0.1:  # a missing row: a failed shard kept none
                    rows.append((series, index, status, {"x": f"{series}-{point}"}, metric))
                index += 1
    return rows


def expected(rows: list[Row], goal: str, repeats: int) -> list[tuple[Any, ...]]:
    by_series: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_series[row[0]].append(row)
    answer = []
    for series, members in sorted(by_series.items(), key=lambda item: min(r[1] for r in item[1])):
        values = [r[4] for r in members if r[4] is not None]
        per_base: dict[int, list[float]] = defaultdict(list)
        for _, index, status, _, metric in members:
            if status == "ok" and metric is not None:
                per_base[index // repeats].append(metric)
        means = {base: statistics.fmean(v) for base, v in per_base.items()}
        best_params = best_value = None
        if means:
            top = (max if goal == "max" else min)(means.values())
            base = min(b for b, m in means.items() if m == top)
            best_value = means[base]
            best_params = next(r[3] for r in members if r[1] // repeats == base and r[2] == "ok")
        answer.append(
            (
                series,
                len(members),
                sum(r[2] == "error" for r in members),
                statistics.fmean(values) if values else None,
                min(values, default=None),
                max(values, default=None),
                best_params,
                best_value,
            )
        )
    return answer


@pytest.mark.parametrize("repeats", [1, 3])
@pytest.mark.parametrize("goal", ["max", "min"])
@pytest.mark.parametrize("seed", range(25))
def test_the_summary_is_the_hand_computed_one(seed: int, goal: str, repeats: int) -> None:
    # GIVEN a generated run's points
    rows = generated(seed, repeats)
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE points (series VARCHAR, point_index BIGINT, status VARCHAR,"
        " params MAP(VARCHAR, VARCHAR), metrics MAP(VARCHAR, DOUBLE))"
    )
    con.executemany(
        "INSERT INTO points VALUES (?, ?, ?, MAP(['x'], [?]), MAP(?::VARCHAR[], ?::DOUBLE[]))",
        [
            [series, index, status, params["x"], *(([], []) if metric is None else (["m"], [metric]))]
            for series, index, status, params, metric in rows
        ],
    )
    # WHEN the summary query runs
    got = con.execute(summary_sql("m", goal, repeats)).fetchall()  # type: ignore[arg-type]
    # THEN every series' row is the hand-computed one
    want = expected(rows, goal, repeats)
    assert [row[:3] + row[6:7] for row in got] == [row[:3] + row[6:7] for row in want]
    for g, w in zip(got, want, strict=True):
        assert g[3:6] == pytest.approx(w[3:6])
        assert g[7] == pytest.approx(w[7])


def test_best_settings_average_over_declared_nuisance_axes_issue_21(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import BaseModel

    from sweep_cli.results.query import nuisance_axes
    from sweep_contracts.experiments import Experiment, Registry

    class Config(BaseModel):
        temperature: float = 0.0
        prompt: str = ""

    # GIVEN an experiment that declares `prompt` a nuisance axis (its values are samples, not choices)
    demo = Experiment("nuisance-demo", Config, lambda c: {"m": 0.0}, nuisance_axes=("prompt",))
    monkeypatch.setitem(Registry.default()._experiments, demo.name, demo)
    assert nuisance_axes("nuisance-demo") == ("task_index", "seed", "prompt")
    # AND points where temperature 0.7 wins on one prompt, but 0.0 wins on the mean over prompts
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE points (series VARCHAR, point_index BIGINT, status VARCHAR, params MAP(VARCHAR, VARCHAR), metrics MAP(VARCHAR, DOUBLE))"
    )
    scores = {
        ("0.7", "a"): 1.0,
        ("0.7", "b"): 0.0,
        ("0.7", "c"): 0.0,
        ("0.0", "a"): 0.9,
        ("0.0", "b"): 0.8,
        ("0.0", "c"): 0.7,
    }
    for index, ((temperature, prompt), score) in enumerate(scores.items()):
        con.execute(
            "INSERT INTO points VALUES ('grid', ?, 'ok', MAP(['temperature', 'prompt'], [?, ?]), MAP(['m'], [?]))",
            [index, temperature, prompt, score],
        )
    # WHEN the summary chooses among the option axes only
    ((*_, best, value),) = con.execute(summary_sql("m", "max", 1, ["temperature"])).fetchall()
    # THEN the best settings are temperature 0.0 (mean 0.8), found at its first point (prompt a)
    assert (best, value) == ({"temperature": "0.0", "prompt": "a"}, pytest.approx(0.8))
    # AND the point-wise summary, as before, picks the single best point
    ((*_, point, top),) = con.execute(summary_sql("m", "max", 1)).fetchall()
    assert (point, top) == ({"temperature": "0.7", "prompt": "a"}, 1.0)
