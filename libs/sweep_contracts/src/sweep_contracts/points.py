"""Point indexing: index -> point in O(number of axes), for every form, never materialising the sweep.

Order (stable, part of the contract):

1. Series in declaration order: each grid of `grids` (or `grid`, series `grid`), then nothing else —
   a request has one form. `points` is series `points`, `sample` is series `sample`, a request
   with no form is one point, series `base`.
2. Inside a grid, mixed radix over the axes in declaration order with the **last axis varying
   fastest** (like `itertools.product`). Inside `points`, list order. Inside `sample`, draw order.
3. Repeats innermost: index = base_index * repeats + repeat, so a shard holds all repeats of
   neighbouring points.

A point's effective config is `config` overlaid with its parameters, plus `seed`: the value of a
`seed` axis if there is one, else `config.seed` (default 0) + repeat.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import JsonValue

from sweep_contracts.distributions import Distribution
from sweep_contracts.request import SEED, SampleSpec, SweepSpec


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One point of a sweep: its series and repeat, and the parameters it sets (its index is the
    one it was asked for: `PointSpace.point(index)`)."""

    series: str
    repeat: int
    params: Mapping[str, JsonValue]
    seed: int


class Series(Protocol):
    """A run of points that share one form; `params(i)` is O(number of axes). `axes` names the
    parameters it varies, each with how it varies (for plans and reports)."""

    name: str
    size: int
    axes: dict[str, str]

    def params(self, i: int) -> dict[str, JsonValue]: ...


class GridSeries:
    """A cartesian product, last axis fastest."""

    def __init__(self, name: str, axes: Mapping[str, Sequence[JsonValue]]) -> None:
        self.name = name
        self._axes = [(axis, list(values)) for axis, values in axes.items()]
        self.axes = {axis: f"{len(values)} values" for axis, values in self._axes}
        self.size = 1
        for _, values in self._axes:
            self.size *= len(values)

    def params(self, i: int) -> dict[str, JsonValue]:
        picked: list[tuple[str, JsonValue]] = []
        for axis, values in reversed(self._axes):
            i, r = divmod(i, len(values))
            picked.append((axis, values[r]))
        return dict(reversed(picked))

    def probe_params(self) -> Iterator[tuple[str, dict[str, JsonValue]]]:
        """The first point, then each value of each axis substituted into it: every value once."""
        first = self.params(0)
        yield "", first
        for axis, values in self._axes:
            for value in values[1:]:
                yield axis, {**first, axis: value}


class ListSeries:
    """Explicit points, in list order."""

    def __init__(self, name: str, points: Sequence[Mapping[str, JsonValue]]) -> None:
        self.name = name
        self._points = points
        self.size = len(points)
        counts: dict[str, int] = {}
        for point in points:
            for key in point:
                counts[key] = counts.get(key, 0) + 1
        self.axes = {key: f"set in {n} of {self.size} points" for key, n in counts.items()}

    def params(self, i: int) -> dict[str, JsonValue]:
        return dict(self._points[i])


def uniform(seed: int, index: int, axis: str) -> float:
    """Counter-based uniform draw in [0, 1): a pure function of (seed, index, axis)."""
    digest = hashlib.blake2b(f"{seed}:{index}:{axis}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) * (1.0 / (1 << 53))


class SampleSeries:
    """Seeded random search: point i draws each axis independently, keyed by the axis name,
    so adding an axis never changes the values drawn for the others."""

    def __init__(self, name: str, spec: SampleSpec) -> None:
        self.name = name
        self.size = spec.n
        self._seed = spec.seed
        self._space: list[tuple[str, Distribution]] = list(spec.space.items())
        self.axes: dict[str, str] = {axis: str(dist.kind) for axis, dist in self._space}

    def params(self, i: int) -> dict[str, JsonValue]:
        return {axis: dist.draw(uniform(self._seed, i, axis)) for axis, dist in self._space}


class BaseSeries:
    """No form given: the config alone is the one point."""

    name = "base"
    size = 1

    def __init__(self) -> None:
        self.axes: dict[str, str] = {}

    def params(self, i: int) -> dict[str, JsonValue]:
        return {}


def build_series(spec: SweepSpec) -> list[Series]:
    if spec.grid is not None:
        return [GridSeries("grid", spec.grid)]
    if spec.grids is not None:
        return [GridSeries(g.name, g.axes) for g in spec.grids]
    if spec.points is not None:
        return [ListSeries("points", spec.points)]
    if spec.sample is not None:
        return [SampleSeries("sample", spec.sample)]
    return [BaseSeries()]


class PointSpace:
    """All points of a sweep, addressed by index 0..size-1."""

    def __init__(self, spec: SweepSpec, config: Mapping[str, JsonValue]) -> None:
        self.config = config
        self.repeats = spec.repeats
        self.series = build_series(spec)
        self._offsets = list(itertools.accumulate((s.size for s in self.series), initial=0))
        self.base_size = self._offsets[-1]
        self.size = self.base_size * self.repeats
        base_seed = config.get(SEED, 0)
        self._base_seed = base_seed if isinstance(base_seed, int) else 0

    def series_offsets(self) -> list[tuple[str, int, int]]:
        """(name, first index, number of indices) per series, repeats included."""
        return [
            (s.name, off * self.repeats, s.size * self.repeats)
            for s, off in zip(self.series, self._offsets, strict=False)
        ]

    def point(self, index: int) -> SweepPoint:
        if not 0 <= index < self.size:
            raise IndexError(f"point index {index} is outside 0..{self.size - 1}")
        base, repeat = divmod(index, self.repeats)
        k = bisect.bisect_right(self._offsets, base) - 1
        series = self.series[k]
        params = series.params(base - self._offsets[k])
        swept_seed = params.get(SEED)
        seed = swept_seed if isinstance(swept_seed, int) else self._base_seed + repeat
        return SweepPoint(series=series.name, repeat=repeat, params=params, seed=seed)

    def points(self, start: int, stop: int) -> Iterator[SweepPoint]:
        """Points start..stop-1, in index order."""
        for index in range(start, stop):
            yield self.point(index)

    def effective_config(self, point: SweepPoint) -> dict[str, Any]:
        """config ⊕ point parameters ⊕ seed."""
        return {**self.config, **point.params, SEED: point.seed}

    def probes(self, sample_limit: int = 32) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
        """Effective configs that cover every distinct axis value at least once (explicit points:
        all of them; samples: the first few), for checking a request against the experiment's
        schema in O(total axis values) rather than O(points).

        Yields (series, index within the series, axis that was varied or "", effective config).
        """
        for series in self.series:
            probes: Iterator[tuple[str, dict[str, JsonValue]]]
            if isinstance(series, GridSeries):
                probes = series.probe_params()
            else:
                count = min(series.size, sample_limit) if isinstance(series, SampleSeries) else series.size
                probes = (("", series.params(i)) for i in range(count))
            for i, (axis, params) in enumerate(probes):
                swept_seed = params.get(SEED)
                seed = swept_seed if isinstance(swept_seed, int) else self._base_seed
                yield series.name, i, axis, {**self.config, **params, SEED: seed}
