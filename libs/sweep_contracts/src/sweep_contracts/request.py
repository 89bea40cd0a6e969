"""The sweep request: which experiment, its config, and the points to evaluate it at."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    JsonValue,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue

from sweep_contracts._json import canonical_json, identity
from sweep_contracts.errors import FieldProblem, MissingConfigError, RequestError

RUN_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,62}$"
EXPERIMENT_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
AXIS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
SERIES_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
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
)
Form = Literal["grid", "grids", "points", "sample"]
FORMS: tuple[Form, ...] = ("grid", "grids", "points", "sample")


class Frozen(BaseModel):
    """Base for contract models: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_json(value: Any, what: str) -> None:
    try:
        canonical_json(value)
    except ValueError as exc:
        raise ValueError(f"{what} holds NaN or infinity, which JSON cannot carry; use a finite number") from exc


def _check_axis_name(name: str, where: str) -> None:
    if not re.match(AXIS_PATTERN, name):
        raise ValueError(
            f"{where} name {name!r} is not valid: use letters, digits, `_`, `.` or `-`, "
            "starting with a letter or `_` (at most 64 characters)"
        )


def _check_axes(axes: Mapping[str, Sequence[JsonValue]]) -> None:
    if not axes:
        raise ValueError("a grid needs at least one axis, e.g. `{size: [11, 21]}`")
    for name, values in axes.items():
        _check_axis_name(name, "axis")
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

    name: str = Field(pattern=SERIES_PATTERN)
    axes: dict[str, list[JsonValue]]

    @field_validator("axes")
    @classmethod
    def _valid_axes(cls, axes: dict[str, list[JsonValue]]) -> dict[str, list[JsonValue]]:
        _check_axes(axes)
        return axes

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.axes.values())


DistributionKind = Literal["uniform", "loguniform", "randint", "normal", "choice"]
_DIST_KINDS: tuple[DistributionKind, ...] = ("uniform", "loguniform", "randint", "normal", "choice")
_STANDARD_NORMAL = NormalDist()


class Distribution(Frozen):
    """A sampling distribution, written `{uniform: [0, 1]}`, `{choice: [a, b]}`, …"""

    kind: DistributionKind
    args: tuple[JsonValue, ...]

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "kind" not in data:
            if len(data) != 1:
                raise ValueError(
                    f"a distribution is one of {', '.join(_DIST_KINDS)} with its arguments, "
                    f"e.g. `{{uniform: [0, 1]}}`; got keys {sorted(data)}"
                )
            ((kind, args),) = data.items()
            if kind not in _DIST_KINDS:
                close = difflib.get_close_matches(str(kind), _DIST_KINDS, n=1)
                guess = f" (did you mean `{close[0]}`?)" if close else ""
                raise ValueError(f"unknown distribution `{kind}`{guess}; use one of {', '.join(_DIST_KINDS)}")
            if not isinstance(args, list | tuple):
                raise ValueError(f"`{kind}` takes a list of arguments, e.g. `{{{kind}: [0, 1]}}`; got {args!r}")
            return {"kind": kind, "args": tuple(args)}
        return data

    @model_validator(mode="after")
    def _valid_args(self) -> Distribution:
        kind, args = self.kind, self.args
        if kind == "choice":
            if not args:
                raise ValueError("`choice` needs at least one value")
            _check_json(list(args), "`choice`")
            return self
        numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        if len(args) != 2 or len(numbers) != 2 or not all(math.isfinite(float(n)) for n in numbers):
            raise ValueError(f"`{kind}` takes two finite numbers, e.g. `{{{kind}: [1, 10]}}`; got {list(args)}")
        lo, hi = float(numbers[0]), float(numbers[1])
        if kind == "normal":
            if hi <= 0:
                raise ValueError(f"`normal: [mean, stddev]` needs stddev > 0; got {numbers[1]}")
        elif kind == "randint":
            if not all(isinstance(n, int) for n in numbers) or lo > hi:
                raise ValueError(
                    f"`randint: [low, high]` takes integers with low <= high (both included); got {list(args)}"
                )
        elif lo >= hi:
            raise ValueError(f"`{kind}: [low, high]` needs low < high; got {list(args)}")
        elif kind == "loguniform" and lo <= 0:
            raise ValueError(f"`loguniform: [low, high]` needs low > 0; got {numbers[0]}")
        return self

    @model_serializer
    def _to_shorthand(self) -> dict[str, list[JsonValue]]:
        return {self.kind: list(self.args)}

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The shorthand users write, e.g. `{"uniform": [0, 1]}`, not the internal kind/args form."""
        pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
        args = {
            "uniform": pair,
            "loguniform": pair,
            "normal": pair,
            "choice": {"type": "array", "minItems": 1},
            "randint": {**pair, "items": {"type": "integer"}},
        }
        return {
            "title": "Distribution",
            "description": "One of uniform: [low, high], loguniform: [low, high], randint: [low, high] "
            "(both included), normal: [mean, sd], choice: [values…].",
            "oneOf": [
                {"type": "object", "properties": {k: v}, "required": [k], "additionalProperties": False}
                for k, v in args.items()
            ],
        }

    def draw(self, u: float) -> JsonValue:
        """The value at quantile `u` in [0, 1)."""
        args = self.args
        if self.kind == "choice":
            return args[min(int(u * len(args)), len(args) - 1)]
        lo, hi = float(args[0]), float(args[1])  # type: ignore[arg-type]
        if self.kind == "uniform":
            return lo + u * (hi - lo)
        if self.kind == "loguniform":
            return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        if self.kind == "randint":
            return int(lo) + min(int(u * (hi - lo + 1)), int(hi - lo))
        return lo + hi * _STANDARD_NORMAL.inv_cdf(min(max(u, 1e-300), 1 - 1e-16))


class SampleSpec(Frozen):
    """Seeded random search: `n` points drawn from `space`, reproducible from `seed`."""

    n: int = Field(ge=1)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    space: dict[str, Distribution]

    @field_validator("space")
    @classmethod
    def _valid_space(cls, space: dict[str, Distribution]) -> dict[str, Distribution]:
        if not space:
            raise ValueError("`space` needs at least one axis, e.g. `{temperature: {uniform: [0, 1]}}`")
        for name in space:
            _check_axis_name(name, "axis")
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
    repeats: int = Field(default=1, ge=1)

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
                _check_axis_name(name, "parameter")
            _check_json(point, "a point")
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

    experiment: str
    run_id: str | None = None
    description: str | None = Field(default=None, max_length=2000)
    config: dict[str, JsonValue]
    shard_size: int | None = Field(default=None, ge=1)

    @field_validator("experiment")
    @classmethod
    def _valid_experiment(cls, name: str) -> str:
        if not re.match(EXPERIMENT_PATTERN, name):
            raise ValueError(
                f"experiment name {name!r} is not valid: use lowercase letters, digits, `-` and `_`, "
                "starting with a letter (at most 63 characters)"
            )
        return name

    @field_validator("run_id")
    @classmethod
    def _valid_run_id(cls, run_id: str | None) -> str | None:
        if run_id is not None and not re.match(RUN_ID_PATTERN, run_id):
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
        return self.model_dump(mode="json", exclude={"run_id"})


def check_config(config: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """A config is a non-empty mapping of JSON values whose `seed`, if any, is an integer."""
    if not config:
        raise MissingConfigError(
            "`config` is empty; every sweep needs its experiment config.",
            field="config",
            value={},
            hint=MISSING_CONFIG_HINT,
        )
    _check_json(config, "`config`")
    seed = config.get(SEED)
    if SEED in config and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"`config.seed` must be an integer (the base of the repeat seeds); got {seed!r}")
    return config


def field_path(loc: Sequence[int | str]) -> str:
    """`('grids', 1, 'axes', 'size')` -> `grids[1].axes.size`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "request"


def _problem(error: Mapping[str, Any], known: Sequence[str]) -> FieldProblem:
    loc = list(error["loc"])
    path = field_path(loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        name = str(loc[-1]) if loc else path
        top_level = known if len(loc) == 1 else []
        close = difflib.get_close_matches(name, top_level, n=1)
        message = f"`{name}` is not a known field" + (f"; did you mean `{close[0]}`?" if close else "")
        if top_level:
            message += f" (known fields: {', '.join(top_level)})"
    elif error["type"] == "missing":
        message = f"`{path}` is required"
    elif (
        "input" in error
        and not isinstance(error["input"], Mapping | list)
        and "got " not in message
        and repr(error["input"]) not in message
    ):
        message = f"{message[:1].lower()}{message[1:]}; got {error['input']!r}"
    return FieldProblem(field=path, message=message, value=error.get("input"))


def problems_from(exc: ValidationError, known: Sequence[str] = ()) -> list[FieldProblem]:
    """Turn pydantic's errors into field problems with sweep's wording; `known` are the model's
    top-level fields, suggested when an unknown one is given."""
    return [_problem(e, known) for e in exc.errors(include_url=False)]


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
        return SweepRequest.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, REQUEST_FIELDS)
        first = problems[0]
        raise RequestError(
            f"`{first.field}`: {first.message}.".replace("..", "."),
            field=first.field,
            value=first.value,
            hint="correct the field named above (the sweep file format is in the README); "
            "`sweep plan FILE` checks a sweep file without running anything.",
            problems=problems,
        ) from exc
