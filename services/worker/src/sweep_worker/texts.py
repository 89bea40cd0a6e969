"""A point's stored texts (its `params` map, its `config_json`) and the config it validates, with
what is constant over a shard computed once.

For a grid whose axes replace top-level config keys (no dotted names, no mapping merged into a
mapping, no `seed` axis), a point's effective config is `{**config, **params, seed}`: its canonical
JSON is then fixed text around the JSON of each picked axis value and of the seed, and each axis
value's JSON and parameter text are computed once per shard, not once per point. Every other form
(dotted or merging axes, explicit points, samples) takes the general path, point by point. Both
give the same text byte for byte (tests/unit/test_point_texts.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.points import GridSeries, PointSpace
from sweep_contracts.request import SEED

PointTexts = tuple[str, int, list[str], list[str], str, dict[str, Any]]
"""(series, repeat, parameter names, parameter texts, config_json, the config to validate)."""

_SEED_SLOT = -1


class _Grid:
    """One grid series' constants: per axis its values' JSON and parameter texts, and the
    effective config's JSON as fixed text around slots for the axis values and the seed."""

    def __init__(self, series: GridSeries, config: Mapping[str, Any], takes_seed: bool) -> None:
        self.name = series.name
        axes = series.axis_values
        self.names = [axis for axis, _ in axes]
        self.values = [values for _, values in axes]
        self.radices = [len(values) for values in self.values]
        self.params = [[param_text(v) for v in values] for values in self.values]
        self.jsons = [[canonical_json(v) for v in values] for values in self.values]
        self.config = {k: v for k, v in config.items() if takes_seed or k != SEED}
        self.takes_seed = takes_seed
        slot = {axis: j for j, axis in enumerate(self.names)}
        slot[SEED] = _SEED_SLOT
        self.slots: list[int] = []
        self.fixed: list[str] = []  # fixed[j] comes before slots[j]; the last one closes the object
        text = "{"
        for n, key in enumerate(sorted({*config, *self.names, SEED})):
            text += ("," if n else "") + canonical_json(key) + ":"
            if key in slot:
                self.fixed.append(text)
                self.slots.append(slot[key])
                text = ""
            else:
                text += canonical_json(config[key])
        self.fixed.append(text + "}")

    def texts(self, i: int, repeat: int, seed: int) -> PointTexts:
        picks = [0] * len(self.radices)
        for j in range(len(self.radices) - 1, -1, -1):
            i, picks[j] = divmod(i, self.radices[j])
        jsons = self.jsons
        parts = [self.fixed[0]]
        for n, j in enumerate(self.slots):
            parts.append(str(seed) if j == _SEED_SLOT else jsons[j][picks[j]])
            parts.append(self.fixed[n + 1])
        effective = dict(self.config)
        for name, values, pick in zip(self.names, self.values, picks, strict=True):
            effective[name] = values[pick]
        if self.takes_seed:
            effective[SEED] = seed
        texts = [column[pick] for column, pick in zip(self.params, picks, strict=True)]
        return self.name, repeat, self.names, texts, "".join(parts), effective

    @staticmethod
    def fits(series: GridSeries, config: Mapping[str, Any]) -> bool:
        """Whether the series' points overlay the config by plain replacement of top-level keys."""
        for axis, values in series.axis_values:
            if "." in axis or axis == SEED:
                return False
            if isinstance(config.get(axis), Mapping) and any(isinstance(v, Mapping) for v in values):
                return False
        return True


class ShardTexts:
    """`texts(index)` for the points of one shard."""

    def __init__(self, space: PointSpace, takes_seed: bool) -> None:
        self.space = space
        self.takes_seed = takes_seed
        self._grids = [
            _Grid(series, space.config, takes_seed)
            if isinstance(series, GridSeries) and _Grid.fits(series, space.config)
            else None
            for series in space.series
        ]

    def texts(self, index: int) -> PointTexts:
        k, i, repeat = self.space.locate(index)
        grid = self._grids[k]
        if grid is not None and type(self.space.base_seed) is int:
            return grid.texts(i, repeat, self.space.base_seed + repeat)
        return self._general(index)

    def _general(self, index: int) -> PointTexts:
        point = self.space.point(index)
        effective = self.space.effective_config(point)
        config_json = canonical_json(effective)
        if not self.takes_seed:
            effective = {k: v for k, v in effective.items() if k != SEED}
        names = list(point.params)
        texts = [param_text(v) for v in point.params.values()]
        return point.series, point.repeat, names, texts, config_json, effective
