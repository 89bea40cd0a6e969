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
`seed` axis if there is one, else `config.seed` (default 0) + repeat. The overlay is deep: a dotted
parameter name (`optim.lr`) sets a key inside the nested mapping `optim`, and a mapping value merges
into the mapping it lands on, so the config's other nested keys (`optim.momentum`) stay.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from pydantic import JsonValue

from sweep_contracts.distributions import Distribution
from sweep_contracts.errors import RequestError
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

    @property
    def axis_values(self) -> list[tuple[str, list[JsonValue]]]:
        """(axis, values) in declaration order: what `params(i)` picks from."""
        return self._axes

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


def merge(base: Any, value: JsonValue) -> JsonValue:
    """`value` over `base`: mappings merge key by key (copied, never mutated), anything else replaces."""
    if not isinstance(base, Mapping) or not isinstance(value, Mapping):
        return value
    merged = dict(base)
    for key, item in value.items():
        merged[key] = merge(merged.get(key), item)
    return merged


def overlay(config: Mapping[str, JsonValue], params: Mapping[str, JsonValue]) -> dict[str, Any]:
    """`config` with each parameter merged in at its dotted path (copies only along that path)."""
    out = dict(config)
    for name, value in params.items():
        *parents, leaf = name.split(".")
        node = out
        for depth, key in enumerate(parents):
            child = node.get(key)
            if child is None:
                child = {}
            elif not isinstance(child, Mapping):
                _not_a_mapping(name, ".".join(parents[: depth + 1]), child)
            node[key] = child = dict(child)
            node = child
        node[leaf] = merge(node.get(leaf), value)
    return out


def _not_a_mapping(name: str, prefix: str, value: Any) -> NoReturn:
    raise RequestError(
        f"parameter `{name}` sets a key inside `{prefix}`, but `{prefix}` is {value!r}, not a mapping.",
        field=name,
        value=value,
        hint=f"make `config.{prefix}` a mapping (e.g. `{prefix}: {{{name.rsplit('.', maxsplit=1)[-1]}: …}}`), "
        f"or name the parameter `{prefix}` to replace the value whole.",
    )


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
        for series in self.series:  # a dotted axis through a config scalar fails at submit, not per point
            overlay(config, dict.fromkeys((axis for axis in series.axes if "." in axis), None))

    def series_offsets(self) -> list[tuple[str, int, int]]:
        """(name, first index, number of indices) per series, repeats included."""
        return [
            (s.name, off * self.repeats, s.size * self.repeats)
            for s, off in zip(self.series, self._offsets, strict=False)
        ]

    def locate(self, index: int) -> tuple[int, int, int]:
        """(series number, index inside that series, repeat) of point `index`."""
        if not 0 <= index < self.size:
            raise IndexError(f"point index {index} is outside 0..{self.size - 1}")
        base, repeat = divmod(index, self.repeats)
        k = bisect.bisect_right(self._offsets, base) - 1
        return k, base - self._offsets[k], repeat

    @property
    def base_seed(self) -> int:
        """`config.seed` (0 when unset or not an integer): repeat r of a point gets base_seed + r."""
        return self._base_seed

    def point(self, index: int) -> SweepPoint:
        k, i, repeat = self.locate(index)
        series = self.series[k]
        params = series.params(i)
        swept_seed = params.get(SEED)
        seed = swept_seed if isinstance(swept_seed, int) else self._base_seed + repeat
        return SweepPoint(series=series.name, repeat=repeat, params=params, seed=seed)

    def points(self, start: int, stop: int) -> Iterator[SweepPoint]:
        """Points start..stop-1, in index order."""
        for index in range(start, stop):
            yield self.point(index)

    def effective_config(self, point: SweepPoint) -> dict[str, Any]:
        """config ⊕ point parameters ⊕ seed."""
        effective = overlay(self.config, point.params)
        effective[SEED] = point.seed
        return effective

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
                effective = overlay(self.config, params)
                effective[SEED] = seed
                yield series.name, i, axis, effective
