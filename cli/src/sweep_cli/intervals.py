"""95% confidence intervals of a metric's mean that stay within the metric's range.

- A metric that took the values 0 and 1 and no other (`solved`, a pass/fail) is a proportion: its
  interval is the Wilson score interval, which lies in [0, 1] by construction and, unlike
  mean ± t·se, is not empty at 0 % or 100 % successes.
- Any other metric: mean ± t(0.975, n − 1)·sd/√n, clipped to the smallest and largest value the
  metric took in the run(s) shown. Experiments declare no bounds for their metrics, so the
  observed range is the range we know; a mean cannot lie outside it. (A bootstrap percentile
  interval would also stay inside it, but with the few repeats sweeps usually have it is too
  narrow, and it needs resampling per cell.)
- One value (n = 1) has no spread: the interval is the value itself, drawn without a bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip
"""Student's t 97.5 % quantiles for 1..30 degrees of freedom."""


def t975(df: int) -> float:
    """Student's t 97.5 % quantile; beyond 30 degrees of freedom a Cornish-Fisher step from the normal."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be ≥ 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class MetricRange:
    """What the run(s) recorded of one metric: its smallest and largest value, and whether it is 0/1."""

    low: float
    high: float
    binary: bool


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval [low, high] over n values."""

    mean: float
    low: float
    high: float
    n: int


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion successes/n (within [0, 1])."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(n: int, mean: float, sd: float | None, bounds: MetricRange) -> Estimate:
    """The mean of n values with its interval, kept within `bounds` (see the module's docstring)."""
    if bounds.binary:
        low, high = wilson(mean * n, n)
        return Estimate(mean, min(low, mean), max(high, mean), n)
    if n < 2 or sd is None:
        return Estimate(mean, mean, mean, n)
    half = t975(n - 1) * sd / math.sqrt(n)
    # min/max keep the mean inside: a float mean of equal values can land a hair outside their range
    return Estimate(mean, min(mean, max(mean - half, bounds.low)), max(mean, min(mean + half, bounds.high)), n)
