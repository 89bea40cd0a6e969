"""A batch of a grid's points, row-building done column-wise: what `ShardLoop.chunk` uses for an
experiment with `run_batch` when the points lie in one grid series whose axes replace top-level
config keys (`sweep_worker.texts`) and whose configs can be assembled from values validated once
(`sweep_worker.configs`).

The points' axis picks, repeats and seeds are numpy arrays; their configs are assembled from the
validated values; once evaluated, their rows become Arrow arrays at once: `params` and
`config_json` are taken from each axis value's text, computed once per shard, and joined by
Arrow's compute kernels — the same text, byte for byte, as the point-by-point path (the rows of a
batched shard and of the same shard run point by point are compared in
tests/functional/test_batch_experiments.py)."""

from __future__ import annotations

import functools
import gc
import importlib.util
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from sweep_contracts.batch import ConfigBatch
from sweep_contracts.request import SEED
from sweep_contracts.schema import clip_log
from sweep_worker._arrow import numbers, same_text, strings, zeros
from sweep_worker.configs import INVALID, GridConfigs

# The local engine has numpy (the CLI's); the worker artifact need not: its batches take the row path.
# Looked up, not imported: numpy costs ~0.14 s of a cold start, and only a shard's first block needs it.
AVAILABLE = importlib.util.find_spec("numpy") is not None
"""Whether blocks can be built here (numpy is importable)."""

_set = object.__setattr__

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


class GridLayout(Protocol):
    """What a block needs of its grid series (`texts._Grid`)."""

    name: str
    names: list[str]
    fixed: list[str]
    slots: list[int]
    arrow: dict[str, Any]

    @property
    def params(self) -> Sequence[Texts]: ...

    @property
    def jsons(self) -> Sequence[Texts]: ...


class Texts(Protocol):
    """An axis's values' texts by position (`texts.Lazy`)."""

    def __getitem__(self, pick: int) -> str: ...


class GridBlock:
    """Points `start..stop-1`, all in one grid series (`base_offset`: its first point's index
    without repeats), with `radices` values per axis, last axis fastest."""

    def __init__(
        self, start: int, stop: int, repeats: int, base_offset: int, radices: Sequence[int], base_seed: int
    ) -> None:
        import numpy as np

        self.index = np.arange(start, stop, dtype=np.int64)
        base = self.index // repeats
        self.repeat = self.index - base * repeats
        self.seed = self.repeat + base_seed
        i = base - base_offset
        picks: list[np.ndarray] = []
        for radix in reversed(radices):
            picks.append(i % radix)
            i = i // radix
        self.picks = picks[::-1]

    def __len__(self) -> int:
        return len(self.index)

    @functools.cached_property
    def used(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per axis, the picks the block uses and each point's position among them (its configs
        and its text columns both need them)."""
        import numpy as np

        return [np.unique(picks, return_inverse=True) for picks in self.picks]

    def batch(self, configs: GridConfigs | None, takes_seed: bool) -> ConfigBatch[BaseModel] | None:
        """Every point's config, as a `ConfigBatch` whose varying fields are laid out as columns
        (each axis value validated once); None when any point must be validated on its own."""
        import numpy as np

        if configs is None or not configs.usable:
            return None
        names: list[str] = [*configs.names, *([SEED] if takes_seed else [])]
        used = [*self.used, *([np.unique(self.seed, return_inverse=True)] if takes_seed else [])]
        columns: dict[str, list[Any]] = {}
        for j, (name, (unique, inverse)) in enumerate(zip(names, used, strict=True)):
            validated = configs.seed_value if j == len(configs.names) else functools.partial(configs.axis_value, j)
            table = [validated(int(p)) for p in unique]
            if any(v is INVALID for v in table):
                return None
            # each point's value, taken by C loops: an object array indexed by the points' positions
            values = np.empty(len(table), dtype=object)
            for k, value in enumerate(table):  # one by one: each stored as it is, a tuple as one value
                values[k] = value
            columns[name] = values[inverse.ravel()].tolist()
        base, model, fields_set, count = configs.base, configs.model, configs.fields_set, len(self.index)

        def build() -> list[BaseModel]:
            new, out = model.__new__, []
            # three objects a point, none in a cycle: the cyclic collector would only walk the heap
            collecting = gc.isenabled()
            gc.disable()
            try:
                dicts = [base.copy() for _ in range(count)]
                for name, column in columns.items():  # field by field: no zip per point
                    for values, value in zip(dicts, column, strict=True):
                        values[name] = value
                for values in dicts:  # `GridConfigs.build`, inlined
                    config = new(model)
                    _set(config, "__dict__", values)
                    _set(config, "__pydantic_fields_set__", fields_set.copy())
                    _set(config, "__pydantic_extra__", None)
                    _set(config, "__pydantic_private__", None)
                    out.append(config)
            finally:
                if collecting:
                    gc.enable()
            return out

        return ConfigBatch(count, {k: v for k, v in base.items() if k not in columns}, columns, build)

    def columns(
        self,
        grid: GridLayout,
        metrics: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]],
        duration_ms: float,
        log: str | None,
        finished_at_ms: int,
    ) -> dict[str, pa.Array]:
        """The block's rows (every column but `shard_id` and `execution`), each point ok with its
        `metrics` (per point, or as columns: one sequence per metric); `grid.fixed` and
        `grid.slots` lay out `config_json`, slot -1 being the seed's."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not grid.arrow:  # the same for every block of the series
            texts = strings([*grid.fixed, "", *grid.names, "ok"])
            grid.arrow.update(fixed=list(texts)[: len(grid.fixed)], names=texts[len(grid.fixed) + 1 : -1])
            grid.arrow.update(separator=texts[len(grid.fixed)], ok=texts[-1:])
        fixed, slots, constant = grid.arrow["fixed"], grid.slots, grid.arrow
        n = len(self.index)
        width = len(self.picks)
        used = self.used
        parts: list[pa.Array | pa.Scalar] = [fixed[0]]
        for k, j in enumerate(slots):
            seeds = pc.cast(numbers(self.seed, pa.int64()), pa.string()) if j < 0 else None
            parts += [_taken(grid.jsons[j], *used[j]) if seeds is None else seeds, fixed[k + 1]]
        config_json = pc.binary_join_element_wise(*parts, constant["separator"])
        repeated = zeros(n)
        # each point's axis texts in axis order: axis j of point i is at j * n + i of the axes laid end to end
        by_axis = [_taken(grid.params[j], *used[j]) for j in range(width)]
        order = (np.arange(width, dtype=np.int64) * n + np.arange(n, dtype=np.int64)[:, None]).ravel()
        params = pa.MapArray.from_arrays(
            numbers(np.arange(n + 1, dtype=np.int32) * width, pa.int32()),
            constant["names"].take(numbers(np.tile(np.arange(width, dtype=np.int64), n), pa.int64())),
            (pa.concat_arrays(by_axis) if by_axis else strings([])).take(numbers(order, pa.int64())),
        )
        metric_map = _metric_map(metrics, n)
        nothing = same_text(None, n)
        return {
            "point_index": numbers(self.index, pa.int64()),
            "series": same_text(grid.name, n),
            "repeat": numbers(self.repeat.astype(np.int32), pa.int32()),
            "params": params,
            "metrics": metric_map,
            "status": constant["ok"].take(repeated),
            "error_type": nothing,
            "error_message": nothing,
            "duration_ms": numbers(np.full(n, duration_ms), pa.float64()),
            "config_json": config_json,
            "finished_at": numbers(np.full(n, finished_at_ms, dtype=np.int64), pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "output": nothing,
            "call_json": nothing,
            "traceback": nothing,
            "log": nothing if log is None or not n else pa.concat_arrays([strings([clip_log(log)]), nothing[1:]]),
        }


def _taken(texts: Texts, unique: np.ndarray, inverse: np.ndarray) -> pa.Array:
    """Each point's text of one axis: the texts of the values the block uses, taken per point."""
    import pyarrow as pa

    return strings([texts[int(u)] for u in unique]).take(numbers(inverse.ravel(), pa.int64()))


def _metric_map(metrics: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]], n: int) -> pa.Array:
    """The `metrics` column of `n` points: from their mappings, or from metric columns (each point
    then has every metric, in the columns' order, as `dict(zip(names, values))` would give it)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(metrics, Mapping):
        names, width = list(metrics), len(metrics)
        values = np.empty((n, width), dtype=np.float64)  # point by point, each point's metrics in order
        for k, column in enumerate(metrics.values()):
            values[:, k] = column
        return pa.MapArray.from_arrays(
            numbers(np.arange(n + 1, dtype=np.int32) * width, pa.int32()),
            strings(names).take(numbers(np.tile(np.arange(width, dtype=np.int64), n), pa.int64())),
            numbers(values.ravel(), pa.float64()),
        )
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, metrics), dtype=np.int64, count=n), out=offsets[1:])
    total = int(offsets[-1])
    slot: dict[str, int] = {}  # each metric name is encoded once, then taken by position
    named = np.fromiter((slot.setdefault(k, len(slot)) for m in metrics for k in m), dtype=np.int64, count=total)
    return pa.MapArray.from_arrays(
        numbers(offsets.astype(np.int32), pa.int32()),
        strings(list(slot)).take(numbers(named, pa.int64())),
        numbers(np.fromiter(chain.from_iterable(m.values() for m in metrics), np.float64, count=total), pa.float64()),
    )
