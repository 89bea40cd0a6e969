"""Confidence intervals of the report stay within the metric's range (issue 12)."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import numpy as np
import pytest

from sweep_cli.report.intervals import (
    Estimate,
    MetricRange,
    clustered_mean,
    estimate,
    paired_difference,
    t975,
    wilson,
)


def test_wilson_matches_the_textbook_values() -> None:
    # 8 of 10: the Wilson score interval is [0.490, 0.943] (Agresti & Coull 1998, table 1 style)
    low, high = wilson(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    # all and none are intervals, not points, and stay in [0, 1]
    assert wilson(0, 5)[0] == 0.0
    assert 0.0 < wilson(0, 5)[1] < 1.0
    assert wilson(5, 5)[1] == 1.0
    assert 0.0 < wilson(5, 5)[0] < 1.0


def test_t_quantiles_from_the_table_and_beyond_it() -> None:
    assert t975(1) == 12.706
    assert t975(30) == 2.042
    # past the table: within 0.001 of the exact quantiles 2.0211 (40) and 1.9840 (100)
    assert t975(40) == pytest.approx(2.0211, abs=1e-3)
    assert t975(100) == pytest.approx(1.9840, abs=1e-3)
    with pytest.raises(ValueError, match="degrees of freedom must be ≥ 1, got 0"):
        t975(0)


def test_a_binary_metric_gets_the_wilson_interval_where_mean_plus_t_se_leaves_0_1() -> None:
    # GIVEN two successes in three tries of a 0/1 metric
    values = [1.0, 1.0, 0.0]
    mean, sd = statistics.mean(values), statistics.stdev(values)
    # the textbook mean ± t·se would claim below 0 and above 1
    half = t975(2) * sd / math.sqrt(3)
    assert (mean - half < 0, mean + half > 1) == (True, True)
    # WHEN the report estimates it
    found = estimate(3, mean, sd, MetricRange(0.0, 1.0, binary=True))
    # THEN it is the Wilson interval, inside [0, 1]
    assert found == Estimate(mean, *wilson(2, 3), 3)
    assert 0.0 < found.low < mean < found.high < 1.0


def test_a_continuous_metric_is_clipped_to_its_observed_range() -> None:
    # GIVEN two values far apart, in a run whose metric ranged over [0.1, 0.9]
    found = estimate(2, 0.5, statistics.stdev([0.1, 0.9]), MetricRange(0.1, 0.9, binary=False))
    # THEN t(1) = 12.7 would reach far outside; the interval is the observed range
    assert found == Estimate(0.5, 0.1, 0.9, 2)
    # and a narrow interval is left as it is
    narrow = estimate(30, 0.5, 0.1, MetricRange(0.0, 1.0, binary=False))
    assert narrow.low == pytest.approx(0.5 - 2.045 * 0.1 / math.sqrt(30))


def test_one_value_has_no_interval_and_the_mean_is_always_inside() -> None:
    assert estimate(1, 3.0, None, MetricRange(0.0, 5.0, binary=False)) == Estimate(3.0, 3.0, 3.0, 1)
    # a float mean of equal values a hair below their minimum still lies within its interval
    found = estimate(3, 0.09999999999999999, 0.0, MetricRange(0.1, 0.1, binary=False))
    assert found.low <= found.mean <= found.high


def test_clustered_interval_of_a_hand_derived_example_issue_21() -> None:
    # GIVEN 6 scores from 3 task items, two calls each: a = (1, 1), b = (0, 0), c = (1, 0)
    got = clustered_mean([1, 1, 0, 0, 1, 0], ["a", "a", "b", "b", "c", "c"])
    # THEN by hand: mean 0.5; residual sums per item 1, -1, 0; se² = 3/2 · (1 + 1 + 0) / 6² = 1/12;
    # half-width t(0.975, 2) · se = 4.303 · 0.288675 = 1.24217
    assert (got.mean, got.n, got.clusters) == (0.5, 6, 3)
    assert got.half == pytest.approx(4.303 * math.sqrt(1 / 12))


def test_clustered_interval_is_the_sandwich_estimator_issue_21() -> None:
    # GIVEN scores from 7 items of unequal sizes
    rng = random.Random(5)
    clusters = [g for g in range(7) for _ in range(rng.randint(1, 6))]
    values = [float(rng.random() < 0.3 + 0.08 * g) for g in clusters]
    # WHEN the reference is computed as statsmodels does for OLS on a constant, cov_type="cluster":
    # (X'X)⁻¹ (Σ_g X_g'u_g u_g'X_g) (X'X)⁻¹ · G/(G−1) · (n−1)/(n−k), k = 1
    y = np.asarray(values)
    x = np.ones((len(y), 1))
    bread = np.linalg.inv(x.T @ x)
    u = y - x @ (bread @ x.T @ y)
    meat = sum(
        np.outer(x[idx].T @ u[idx], x[idx].T @ u[idx])
        for idx in (np.flatnonzero(np.asarray(clusters) == g) for g in range(7))
    )
    se = math.sqrt((bread @ meat @ bread)[0, 0] * 7 / 6)
    # THEN the interval is mean ± t(0.975, 6) · se, t = 2.446912 (table)
    got = clustered_mean(values, clusters)
    assert got.mean == pytest.approx(float(y.mean()))
    assert got.half == pytest.approx(2.446912 * se, rel=1e-4)


def test_items_not_calls_are_the_sample_issue_21() -> None:
    # GIVEN 20 items asked 5 times each, every repeat giving the item's same answer
    item_scores = [float(i % 3 == 0) for i in range(20)]
    values = [s for s in item_scores for _ in range(5)]
    clusters = [i for i in range(20) for _ in range(5)]
    got = clustered_mean(values, clusters)
    # THEN the interval is the t interval over the 20 item means, not one over 100 "independent" calls
    over_items = 2.093 * statistics.stdev(item_scores) / math.sqrt(20)
    over_calls = t975(99) * statistics.stdev(values) / math.sqrt(100)
    assert got.half == pytest.approx(over_items)
    assert got.half > 2 * over_calls
    # AND one item has no spread to tell
    assert clustered_mean([1.0, 0.0], ["a", "a"]).half is None


def test_paired_bootstrap_matches_the_exact_bootstrap_distribution_issue_21() -> None:
    # GIVEN per-item differences on 5 items
    d = [0.0, -1.0, -0.5, 0.25, -0.75]
    # WHEN the exact bootstrap distribution is enumerated: all 5⁵ equally likely resamples
    exact = [statistics.fmean(pick) for pick in itertools.product(d, repeat=len(d))]
    low, high = np.percentile(exact, [2.5, 97.5])
    # THEN the seeded Monte Carlo interval is the exact one, within Monte Carlo error
    got = paired_difference(d)
    assert (got.mean, got.items) == (pytest.approx(-0.4), 5)
    assert got.low == pytest.approx(low, abs=0.03)
    assert got.high == pytest.approx(high, abs=0.03)
    # AND it is the same every time (fixed seed); one item has no interval
    assert paired_difference(d) == got
    assert paired_difference([0.5]).low is None
