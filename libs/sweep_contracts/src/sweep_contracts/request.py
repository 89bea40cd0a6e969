"""The sweep request: which experiment, its config, and the points to evaluate it at."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError, field_validator, model_validator

from sweep_contracts._json import canonical_json, check_json, identity
from sweep_contracts.base import Frozen
from sweep_contracts.distributions import Distribution
from sweep_contracts.errors import MissingConfigError, RequestError
from sweep_contracts.names import EXPERIMENT_PATTERN, RUN_ID_PATTERN, SERIES_PATTERN, check_axis_name
from sweep_contracts.schema import RESERVED_NAMES, reserved_column
from sweep_contracts.validation import problems_from

SEED = "seed"
"""Reserved key: every effective config carries the point's integer `seed`."""

MISSING_CONFIG_HINT = (
    "add a non-empty `config:` mapping with the experiment's settings; the config travels "
    "inside every shard task, so sweep never reads experiment config from shared state."
)

REQUEST_FIELDS = (
    "experiment",
    "run_id",
    "description",
    "config",
    "grid",
    "grids",
    "points",
    "sample",
    "repeats",
    "shard_size",
    "expected_point_s",
)
Form = Literal["grid", "grids", "points", "sample"]
FORMS: tuple[Form, ...] = ("grid", "grids", "points", "sample")


def _check_axes(axes: Mapping[str, Sequence[JsonValue]]) -> None:
    if not axes:
        raise ValueError("a grid needs at least one axis, e.g. `{size: [11, 21]}`")
    for name, values in axes.items():
        check_axis_name(name, "axis")
        if len(values) == 0:
            raise ValueError(f"axis `{name}` has no values; give it at least one")
        seen: set[Hashable] = set()
        for value in values:
            try:
                key = identity(value)
            except ValueError as exc:
                raise ValueError(
                    f"axis `{name}` holds NaN or infinity, which JSON cannot carry; use a finite number"
                ) from exc
            if key in seen:
                raise ValueError(
                    f"axis `{name}` lists {canonical_json(value)} twice; each value must appear once "
                    "(use `repeats` to evaluate a point several times)"
                )
            seen.add(key)
        if name == SEED and not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError("axis `seed` must hold integers: the seed is passed to the experiment as an int")


class GridSpec(Frozen):
    """One named cartesian product; the last axis varies fastest."""

    name: str = Field(pattern=SERIES_PATTERN, strict=True)
    axes: dict[str, list[JsonValue]]

    @field_validator("axes")
    @classmethod
    def _valid_axes(cls, axes: dict[str, list[JsonValue]]) -> dict[str, list[JsonValue]]:
        _check_axes(axes)
        return axes

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.axes.values())


class SampleSpec(Frozen):
    """Seeded random search: `n` points drawn from `space`, reproducible from `seed`."""

    n: int = Field(ge=1, strict=True)
    seed: int = Field(default=0, ge=0, le=2**63 - 1, strict=True)
    space: dict[str, Distribution]

    @field_validator("space")
    @classmethod
    def _valid_space(cls, space: dict[str, Distribution]) -> dict[str, Distribution]:
        if not space:
            raise ValueError("`space` needs at least one axis, e.g. `{temperature: {uniform: [0, 1]}}`")
        for name in space:
            check_axis_name(name, "axis")
            if name == SEED:
                raise ValueError("`seed` cannot be sampled: it is the repeat seed; use `repeats` instead")
        return space


class SweepSpec(Frozen):
    """Which points to evaluate: one form (or none: the config alone) and the repeats.
    This is what every shard task carries, beside the config, to compute its points."""

    grid: dict[str, list[JsonValue]] | None = None
    grids: list[GridSpec] | None = None
    points: list[dict[str, JsonValue]] | None = None
    sample: SampleSpec | None = None
    repeats: int = Field(default=1, ge=1, strict=True)

    @field_validator("grid")
    @classmethod
    def _valid_grid(cls, grid: dict[str, list[JsonValue]] | None) -> dict[str, list[JsonValue]] | None:
        if grid is not None:
            _check_axes(grid)
        return grid

    @field_validator("grids")
    @classmethod
    def _valid_grids(cls, grids: list[GridSpec] | None) -> list[GridSpec] | None:
        if grids is None:
            return None
        if not grids:
            raise ValueError("`grids` is empty; give at least one grid or leave `grids` out")
        names = [g.name for g in grids]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"grid name `{name}` is used twice; grid names name series and must be unique")
        return grids

    @field_validator("points")
    @classmethod
    def _valid_points(cls, points: list[dict[str, JsonValue]] | None) -> list[dict[str, JsonValue]] | None:
        if points is None:
            return None
        if not points:
            raise ValueError("`points` is empty; give at least one point or leave `points` out")
        for point in points:
            for name in point:
                check_axis_name(name, "parameter")
            check_json(point, "a point")
        return points

    @model_validator(mode="after")
    def _one_form(self) -> SweepSpec:
        given = [form for form in FORMS if getattr(self, form) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of `grid`, `grids`, `points` or `sample`; this request has "
                f"{' and '.join(f'`{g}`' for g in given)} (to combine grids, list them all under `grids`)"
            )
        if self.repeats > 1 and SEED in self.axis_names():
            raise ValueError(
                "`seed` is swept as a parameter and `repeats` > 1: both would set the seed; "
                "drop `repeats` or the `seed` axis"
            )
        return self

    @property
    def form(self) -> Form | None:
        """Which form of points the request uses, or None for the config alone (one point)."""
        return next((form for form in FORMS if getattr(self, form) is not None), None)

    def axis_names(self) -> set[str]:
        """Every parameter name that some point sets."""
        names: set[str] = set()
        if self.grid is not None:
            names.update(self.grid)
        for grid in self.grids or ():
            names.update(grid.axes)
        for point in self.points or ():
            names.update(point)
        if self.sample is not None:
            names.update(self.sample.space)
        return names


class SweepRequest(SweepSpec):
    """A sweep: one experiment, its `config`, and the points to evaluate it at."""

    experiment: str = Field(strict=True)
    run_id: str | None = Field(default=None, strict=True)
    description: str | None = Field(default=None, max_length=2000, strict=True)
    config: dict[str, JsonValue]
    shard_size: int | None = Field(default=None, ge=1, strict=True)
    expected_point_s: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="Measured seconds per point (e.g. from `sweep try`): sizes the submit-time checks.",
    )

    @field_validator("experiment")
    @classmethod
    def _valid_experiment(cls, name: str) -> str:
        if not re.fullmatch(EXPERIMENT_PATTERN, name):
            raise ValueError(
                f"experiment name {name!r} is not valid: use lowercase letters, digits, `-` and `_`, "
                "starting with a letter (at most 63 characters)"
            )
        return name

    @field_validator("run_id")
    @classmethod
    def _valid_run_id(cls, run_id: str | None) -> str | None:
        if run_id is not None and not re.fullmatch(RUN_ID_PATTERN, run_id):
            raise ValueError(
                f"run_id {run_id!r} is not valid: it becomes part of storage keys, so use 3 to 63 "
                "lowercase letters, digits and `-`, starting with a letter or digit (e.g. `recall-study-1`)"
            )
        return run_id

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, JsonValue]) -> dict[str, JsonValue]:
        return check_config(config)

    def spec(self) -> SweepSpec:
        """The points part of the request, as shard tasks carry it."""
        return SweepSpec.model_construct(**{name: getattr(self, name) for name in SweepSpec.model_fields})

    def content(self) -> dict[str, Any]:
        """What identifies the run's content: everything except its name."""
        # the time estimate is a planning hint: changing it does not change what the run computes
        return self.model_dump(mode="json", exclude={"run_id", "expected_point_s"})


def check_config(config: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """A config is a non-empty mapping of JSON values whose `seed`, if any, is an integer."""
    if not config:
        raise MissingConfigError(
            "`config` is empty; every sweep needs its experiment config.",
            field="config",
            value={},
            hint=MISSING_CONFIG_HINT,
        )
    check_json(config, "`config`")
    seed = config.get(SEED)
    if SEED in config and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"`config.seed` must be an integer (the base of the repeat seeds); got {seed!r}")
    return config


def parse_request(data: Any) -> SweepRequest:
    """Validate a decoded request; raise a `RequestError` naming every bad field."""
    if not isinstance(data, Mapping):
        raise RequestError(
            f"a sweep request is a mapping of fields; got {type(data).__name__}.",
            field="request",
            hint="send a JSON object (or a YAML mapping) with `experiment`, `config` and a grid.",
        )
    if data.get("config") is None:
        raise MissingConfigError(
            "`config` is missing; every sweep needs its experiment config.",
            field="config",
            value=None,
            hint=MISSING_CONFIG_HINT,
        )
    try:
        request = SweepRequest.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, REQUEST_FIELDS)
        first = problems[0]
        raise RequestError(
            f"`{first.field}`: {first.message.rstrip('.')}.",
            field=first.field,
            value=first.value,
            hint="correct the field named above (the sweep file format: docs/guide/sweep-files.md); "
            "`sweep plan FILE` checks a sweep file without running anything.",
            problems=problems,
        ) from exc
    check_parameter_names(request)
    return request


def _parameter_paths(spec: SweepSpec) -> Iterator[tuple[str, str]]:
    """(field path, name) of every parameter a request names, in the order a reader meets them."""
    for name in spec.grid or {}:
        yield f"grid.{name}", name
    for i, grid in enumerate(spec.grids or ()):
        for name in grid.axes:
            yield f"grids[{i}].axes.{name}", name
    for i, point in enumerate(spec.points or ()):
        for name in point:
            yield f"points[{i}].{name}", name
    for name in spec.sample.space if spec.sample else {}:
        yield f"sample.space.{name}", name


_CASE_NOTE = "names are compared ignoring case, as DuckDB and Athena compare them"


def check_parameter_names(spec: SweepSpec) -> None:
    """Refuse, at plan time, a parameter named like one of sweep's own columns or like another
    parameter, ignoring case: each becomes a column of the `points` view, and SQL identifiers
    ignore case, so `Status` would read `status`. Here, not in the model's validators, so that
    manifests of runs planned before still load."""
    seen: dict[str, str] = {}
    for path, name in _parameter_paths(spec):
        column = reserved_column(name)
        if column is not None:
            raise RequestError(
                f"`{path}`: parameter `{name}` is named like sweep's own column `{column}` ({_CASE_NOTE}).",
                field=path,
                value=name,
                hint=f"rename the parameter (e.g. `{name}_`); reserved names: {', '.join(RESERVED_NAMES)}.",
            )
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise RequestError(
                f"`{path}`: parameters `{other}` and `{name}` differ only by case; their columns would be one "
                f"({_CASE_NOTE}).",
                field=path,
                value=name,
                hint=f"give them one spelling (`{other}`) or names that differ in more than case.",
            )
