"""What a `run_batch` call gets and may give back, column by column.

`ConfigBatch` is the sequence of validated configs a `run_batch` call gets. It is a
`Sequence[Config]` like any list of configs, and it also gives one field of every config at once,
`configs.column("x")`: for a grid's points the worker has each field's values already laid out
(each axis value validated once, `sweep_worker.configs`), so reading columns never builds a config
object per point, which costs more than a near-zero-cost point itself (issue 13). The configs are
built the first time the batch is indexed or iterated.

`run_batch` may answer with one list per metric (`{"value": [...], "distance": [...]}`, lists or
numpy arrays, each as long as the batch) instead of one mapping per point; the rows are the same."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

C = TypeVar("C")


class ConfigBatch(Sequence[C], Generic[C]):
    """The validated configs of one `run_batch` call, in point order; `column(name)` is
    `[getattr(c, name) for c in configs]` without building the configs when they are not built yet."""

    __slots__ = ("_build", "_columns", "_configs", "_count", "_fields")

    def __init__(
        self,
        count: int,
        fields: Mapping[str, Any],
        columns: Mapping[str, Sequence[Any]],
        build: Callable[[], list[C]],
    ) -> None:
        """`count` configs whose field `name` is `columns[name][i]` for config i, or `fields[name]`
        for every config; `build()` makes the configs (once, when they are first needed)."""
        self._count = count
        self._fields = fields
        self._columns = columns
        self._build = build
        self._configs: list[C] | None = None

    @classmethod
    def of(cls, configs: Sequence[C]) -> ConfigBatch[C]:
        """A batch of configs already built: its columns are read from them."""
        if isinstance(configs, ConfigBatch):
            return configs
        built = list(configs)
        batch = cls(len(built), {}, {}, lambda: built)
        batch._configs = built
        return batch

    def column(self, name: str) -> list[Any]:
        """Field `name` of every config, in order (a new list each call). AttributeError for a
        field the configs do not have."""
        if name in self._columns:
            return list(self._columns[name])
        if name in self._fields:
            return [self._fields[name]] * self._count
        if self._columns or self._fields:  # laid out: every field of the model is in one of them
            raise AttributeError(f"the configs have no field `{name}`")
        return [getattr(config, name) for config in self._all()]

    def _all(self) -> list[C]:
        if self._configs is None:
            self._configs = self._build()
        return self._configs

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> C: ...
    @overload
    def __getitem__(self, index: slice) -> list[C]: ...
    def __getitem__(self, index: int | slice) -> C | list[C]:
        return self._all()[index]

    def __iter__(self) -> Iterator[C]:
        return iter(self._all())

    def __repr__(self) -> str:
        return f"ConfigBatch({self._count} configs)"
