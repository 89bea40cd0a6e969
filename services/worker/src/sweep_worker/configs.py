"""A grid shard's per-point configs from values validated once per shard, where that is provably
what validating each point would give; otherwise each point is validated as before.

Validating a config with pydantic costs ~2.5 µs a point; a grid's points are a few axis values
combined. When the config model validates each field on its own — no model or field validators,
no function validators anywhere in its schema (none can look at another field), no aliases, no
private attributes or `model_post_init`, no extra fields kept — a point's validated config is its
fields' validated values side by side: each axis value, the seed and the rest of the config are
validated once (inside an otherwise valid config), and a point is assembled from them as pydantic's
own `model_construct` does. Only immutable values are shared between points (numbers, text, None,
enums, tuples and frozensets of those); a model whose validated values include anything else (a
list, a nested model) is validated per point. A point with any value that fails validation is
validated per point too, so its error row is exactly as before (tests/unit/test_grid_configs.py)."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from sweep_contracts.request import SEED

INVALID = object()
_PLAIN = frozenset({int, float, str, bool, bytes, type(None)})
_FUNCTIONS = frozenset({"function-before", "function-after", "function-wrap", "function-plain"})
_set = object.__setattr__


def _immutable(value: object) -> bool:
    if type(value) in _PLAIN or isinstance(value, enum.Enum):
        return True
    return type(value) in (tuple, frozenset) and all(_immutable(v) for v in value)  # type: ignore[attr-defined]


def _has_function(schema: object) -> bool:
    if isinstance(schema, Mapping):
        return schema.get("type") in _FUNCTIONS or any(_has_function(v) for v in schema.values())
    if isinstance(schema, list | tuple):
        return any(_has_function(v) for v in schema)
    return False


@functools.cache
def per_field(model: type[BaseModel]) -> bool:
    """Whether validating a config of `model` is validating each of its fields on its own."""
    found = model.__pydantic_decorators__
    if found.validators or found.field_validators or found.root_validators or found.model_validators:
        return False
    if model.__pydantic_post_init__ is not None or model.__private_attributes__ or model.__pydantic_root_model__:
        return False
    if model.model_config.get("extra") == "allow":
        return False
    fields = model.model_fields.values()
    if any(f.alias is not None or f.validation_alias is not None for f in fields):
        return False
    return not _has_function(model.__pydantic_core_schema__)


class GridConfigs:
    """`config(picks, seed)`: the validated config of the point that takes value `picks[j]` of
    axis j and `seed`, or None when it must be validated on its own (see the module)."""

    def __init__(
        self,
        model: type[BaseModel],
        config: Mapping[str, Any],
        names: Sequence[str],
        values: Sequence[Sequence[Any]],
        seed: int | None,
    ) -> None:
        """`config`: the point-independent part of the effective config; `seed`: the first
        point's, None when the model takes none."""
        self.model = model
        self.names = list(names)
        self.values = values
        self.first: dict[str, Any] = {**config, **{n: v[0] for n, v in zip(names, values, strict=True)}}
        if seed is not None:
            self.first[SEED] = seed
        self.usable = per_field(model) and set(self.first) <= set(model.model_fields)
        self._axes: list[dict[int, Any]] = [{} for _ in names]
        self._seeds: dict[int, Any] = {}
        self.base: dict[str, Any] = {}
        self.fields_set: set[str] = set()
        if self.usable:
            try:
                template = model.model_validate(self.first)
            except ValidationError:
                self.usable = False
                return
            extra, private = template.__pydantic_extra__, template.__pydantic_private__
            self.base = dict(template.__dict__)
            self.fields_set = set(template.model_fields_set)
            self.usable = extra is None and private is None and all(map(_immutable, self.base.values()))

    def _validated(self, name: str, value: Any) -> Any:
        try:
            validated = getattr(self.model.model_validate({**self.first, name: value}), name)
        except ValidationError:
            return INVALID
        return validated if _immutable(validated) else INVALID

    def axis_value(self, j: int, pick: int) -> Any:
        """Axis j's value `pick`, validated (once), or `INVALID`."""
        known = self._axes[j]
        if pick not in known:
            known[pick] = self._validated(self.names[j], self.values[j][pick])
        return known[pick]

    def seed_value(self, seed: int) -> Any:
        if seed not in self._seeds:
            self._seeds[seed] = self._validated(SEED, seed)
        return self._seeds[seed]

    def config(self, picks: Sequence[int], seed: int | None, *, known: bool = False) -> BaseModel | None:
        """With `known`, only from values already validated (or `learn`t): None if one is new."""
        if not self.usable:
            return None
        values = dict(self.base)
        for j, pick in enumerate(picks):
            value = self._axes[j].get(pick, INVALID) if known else self.axis_value(j, pick)
            if value is INVALID:
                return None
            values[self.names[j]] = value
        if seed is not None:
            value = self._seeds.get(seed, INVALID) if known else self.seed_value(seed)
            if value is INVALID:
                return None
            values[SEED] = value
        return self.build(values)

    def learn(self, picks: Sequence[int], seed: int | None, config: BaseModel) -> None:
        """Keep the values of a point validated on its own: field by field, each is what its axis
        value validates to, so later points with it need no validation of their own."""
        if not self.usable:
            return
        for j, pick in enumerate(picks):
            if pick not in self._axes[j]:
                value = getattr(config, self.names[j])
                self._axes[j][pick] = value if _immutable(value) else INVALID
        if seed is not None and seed not in self._seeds:
            value = getattr(config, SEED)
            self._seeds[seed] = value if _immutable(value) else INVALID

    def build(self, values: dict[str, Any]) -> BaseModel:
        """A model instance of already validated `values`, as `model_construct` makes one."""
        config = self.model.__new__(self.model)
        _set(config, "__dict__", values)
        _set(config, "__pydantic_fields_set__", set(self.fields_set))
        _set(config, "__pydantic_extra__", None)
        _set(config, "__pydantic_private__", None)
        return config
