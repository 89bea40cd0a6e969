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

For the per-option table of LLM runs (`llm_report`): a score's interval clustered by task item
(`clustered_mean`), and the paired difference of two option values over the same items
(`paired_difference`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
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


@dataclass(frozen=True)
class ClusteredMean:
    """A mean over n values from `clusters` independent clusters (task items), with the half-width
    of its 95% interval; None when there are fewer than two clusters (no spread between items)."""

    mean: float
    half: float | None
    n: int
    clusters: int


def clustered_mean(values: Sequence[float], clusters: Sequence[Hashable]) -> ClusteredMean:
    """The mean of `values` with a cluster-robust standard error: the values of one cluster (the
    calls on one task item: its repeats, seeds, other options) are not independent, so the sample
    is the clusters. The sandwich estimator of an intercept-only regression with the small-sample
    factor G/(G−1) (what statsmodels' `cov_type="cluster"` gives for one regressor; Inspect reports
    clustered standard errors the same way): se² = G/(G−1) · Σ_g (Σ_{i∈g} (y_i − ȳ))² / n².
    The interval is ȳ ± t(0.975, G−1)·se."""
    if len(values) != len(clusters) or not values:
        raise ValueError(f"need as many clusters as values (≥ 1), got {len(values)} values, {len(clusters)} clusters")
    n = len(values)
    mean = math.fsum(values) / n
    sums: dict[Hashable, list[float]] = defaultdict(list)
    for value, cluster in zip(values, clusters, strict=True):
        sums[cluster].append(value - mean)
    g = len(sums)
    if g < 2:
        return ClusteredMean(mean, None, n, g)
    variance = g / (g - 1) * math.fsum(math.fsum(r) ** 2 for r in sums.values()) / (n * n)
    return ClusteredMean(mean, t975(g - 1) * math.sqrt(variance), n, g)


BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 21
"""Fixed, so the same rows always give the same interval."""


@dataclass(frozen=True)
class PairedDifference:
    """The mean of per-item differences (B − A on the same items) with its 95% interval; None
    with fewer than two items."""

    mean: float
    low: float | None
    high: float | None
    items: int


def paired_difference(
    per_item: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> PairedDifference:
    """The mean of `per_item` differences and its 95% paired-bootstrap percentile interval: the
    items are drawn with replacement, `resamples` times, from a generator seeded with `seed`.
    A bootstrap, not a t interval, because scores are often 0/1 and bounded (McNemar's exact test
    would do for 0/1 alone; the bootstrap serves any score)."""
    import numpy as np  # only for a table that shows differences

    if not per_item:
        raise ValueError("a paired difference needs at least one item")
    d = np.asarray(per_item, dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return PairedDifference(mean, None, None, len(d))
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(d))  # bounded memory for many items
    means = np.concatenate(
        [
            d[rng.integers(0, len(d), size=(min(chunk, resamples - start), len(d)))].mean(axis=1)
            for start in range(0, resamples, chunk)
        ]
    )
    low, high = np.percentile(means, [2.5, 97.5])
    return PairedDifference(mean, min(float(low), mean), max(float(high), mean), len(d))
