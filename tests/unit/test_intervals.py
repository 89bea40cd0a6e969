"""Confidence intervals of the report stay within the metric's range (issue 12)."""

from __future__ import annotations

import math
import statistics

import pytest

from sweep_cli.intervals import Estimate, MetricRange, estimate, t975, wilson


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
