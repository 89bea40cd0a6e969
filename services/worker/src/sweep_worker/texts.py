"""A point's stored texts (its `params` map, its `config_json`) and the config it validates, with
what is constant over a shard computed once.

For a grid whose axes replace top-level config keys (no dotted names, no mapping merged into a
mapping, no `seed` axis), a point's effective config is `{**config, **params, seed}`: its canonical
JSON is then fixed text around the JSON of each picked axis value and of the seed, and each axis
value's JSON and parameter text are computed once per shard, not once per point. Every other form
(dotted or merging axes, explicit points, samples) takes the general path, point by point. Both
give the same text byte for byte (tests/unit/test_point_texts.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.points import GridSeries, PointSpace
from sweep_contracts.request import SEED
from sweep_worker.columns import AVAILABLE, GridBlock
from sweep_worker.configs import GridConfigs

BLOCK_MIN = 256
"""Fewer points than this are rows one by one: a block's rows cost ~1 ms whatever its size
(`sweep_worker.columns`), more than a few hundred points' rows made one at a time."""

PointTexts = tuple[str, int, list[str], list[str], str, dict[str, Any]]
"""(series, repeat, parameter names, parameter texts, config_json, the config to validate)."""

_SEED_SLOT = -1


class Lazy:
    """Each value's text, made the first time it is asked for: a shard uses few of a long axis's
    values, and its setup stays O(axes), not O(axis values) (the local engine's probe times a few
    short runs of points, each with its own setup)."""

    def __init__(self, values: Sequence[Any], render: Callable[[Any], str]) -> None:
        self.values = values
        self.render = render
        self.known: list[str | None] = [None] * len(values)

    def __getitem__(self, pick: int) -> str:
        text = self.known[pick]
        if text is None:
            text = self.known[pick] = self.render(self.values[pick])
        return text


class _Grid:
    """One grid series' constants: per axis its values' JSON and parameter texts (made as needed), and the
    effective config's JSON as fixed text around slots for the axis values and the seed."""

    def __init__(
        self,
        series: GridSeries,
        config: Mapping[str, Any],
        takes_seed: bool,
        model: type[BaseModel] | None = None,
        base_seed: int = 0,
    ) -> None:
        self.name = series.name
        axes = series.axis_values
        self.names = [axis for axis, _ in axes]
        self.values = [values for _, values in axes]
        self.radices = [len(values) for values in self.values]
        self.params = [Lazy(values, param_text) for values in self.values]
        self.jsons = [Lazy(values, canonical_json) for values in self.values]
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
        self.arrow: dict[str, Any] = {}
        """What blocks of this series reuse as Arrow values (`sweep_worker.columns`)."""
        self.configs = (
            None
            if model is None
            else GridConfigs(model, self.config, self.names, self.values, base_seed if takes_seed else None)
        )

    def picks(self, i: int) -> list[int]:
        picks = [0] * len(self.radices)
        for j in range(len(self.radices) - 1, -1, -1):
            i, picks[j] = divmod(i, self.radices[j])
        return picks

    def texts(self, picks: list[int], repeat: int, seed: int) -> PointTexts:
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
    """`texts(index)` for the points of one shard; with the config `model`, `config(index)` and
    `block(indices)` give configs validated once per value (`sweep_worker.configs`)."""

    def __init__(self, space: PointSpace, takes_seed: bool, model: type[BaseModel] | None = None) -> None:
        self.space = space
        self.takes_seed = takes_seed
        seeded = type(space.base_seed) is int
        self._grids = [
            _Grid(series, space.config, takes_seed, model if seeded else None, space.base_seed)
            if isinstance(series, GridSeries) and _Grid.fits(series, space.config)
            else None
            for series in space.series
        ]
        self._first_base = [offset // space.repeats for _, offset, _ in space.series_offsets()]

    def config(self, index: int) -> BaseModel | None:
        """Point `index`'s validated config when it is assembled from values already validated
        (`learn`); None when the point is to be validated on its own."""
        k, i, repeat = self.space.locate(index)
        grid = self._grids[k]
        if grid is None or grid.configs is None:
            return None
        seed = self.space.base_seed + repeat if self.takes_seed else None
        return grid.configs.config(grid.picks(i), seed, known=True)

    def point(self, index: int) -> tuple[PointTexts, BaseModel | None]:
        """`(texts(index), config(index))`, the point located once."""
        space = self.space
        k, i, repeat = space.locate(index)
        grid = self._grids[k]
        if grid is None or type(space.base_seed) is not int:
            return self._general(index), None
        picks = grid.picks(i)
        texts = grid.texts(picks, repeat, space.base_seed + repeat)
        if grid.configs is None:
            return texts, None
        return texts, grid.configs.config(picks, space.base_seed + repeat if self.takes_seed else None, known=True)

    def learn(self, index: int, config: BaseModel) -> None:
        """Keep point `index`'s validated values for the points after it (`configs.GridConfigs.learn`)."""
        k, i, repeat = self.space.locate(index)
        grid = self._grids[k]
        if grid is not None and grid.configs is not None:
            grid.configs.learn(grid.picks(i), self.space.base_seed + repeat if self.takes_seed else None, config)

    def series_end(self, index: int) -> int:
        """The index after the last point of `index`'s series."""
        k, _, _ = self.space.locate(index)
        return (self._first_base[k + 1] if k + 1 < len(self._first_base) else self.space.base_size) * self.space.repeats

    def block(self, indices: Sequence[int]) -> tuple[_Grid, GridBlock] | None:
        """`indices` as a block of one grid series, for row-building column-wise; None when they
        are not a run of consecutive points of one such series."""
        if not AVAILABLE or not isinstance(indices, range) or indices.step != 1 or len(indices) < BLOCK_MIN:
            return None
        k, _, _ = self.space.locate(indices[0])
        grid = self._grids[k]
        if grid is None or grid.configs is None or not grid.configs.usable or self.space.locate(indices[-1])[0] != k:
            return None
        repeats, base_seed = self.space.repeats, self.space.base_seed
        return grid, GridBlock(indices.start, indices.stop, repeats, self._first_base[k], grid.radices, base_seed)

    def texts(self, index: int) -> PointTexts:
        k, i, repeat = self.space.locate(index)
        grid = self._grids[k]
        if grid is not None and type(self.space.base_seed) is int:
            return grid.texts(grid.picks(i), repeat, self.space.base_seed + repeat)
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
