"""Sampling distributions for `sample` sweeps: how a request writes one, and the value at a quantile."""

from __future__ import annotations

import difflib
import math
import sys
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any, Literal

from pydantic import GetJsonSchemaHandler, JsonValue, model_serializer, model_validator
from pydantic.json_schema import JsonSchemaValue

from sweep_contracts._json import check_json
from sweep_contracts.base import Frozen

DistributionKind = Literal["uniform", "loguniform", "randint", "normal", "choice"]
_DIST_KINDS: tuple[DistributionKind, ...] = ("uniform", "loguniform", "randint", "normal", "choice")
_STANDARD_NORMAL = NormalDist()


RANDINT_LIMIT = 2**53
"""`randint` bounds stay within ±2**53: draws are computed in 64-bit floats, exact for integers up to there."""
_EDGES = (0.0, 0.5, 1 - 2**-53)
"""Quantiles at the ends of the range (and its middle): a draw that is finite there is finite everywhere."""


def _finite(n: Any) -> bool:
    try:
        return math.isfinite(float(n))
    except (OverflowError, TypeError, ValueError):  # an int beyond float range, or not a number
        return False


def _shown(args: tuple[JsonValue, ...] | list[JsonValue]) -> str:
    text = str(list(args))
    return text if len(text) <= 80 else f"{text[:60]}… ({len(text):,} characters)"


def _check_bounds(kind: str, low: float, high: float) -> None:
    if kind == "normal":
        if high <= 0:
            raise ValueError(f"`normal: [mean, stddev]` needs stddev > 0; got {high}")
    elif kind == "randint":
        if not (isinstance(low, int) and isinstance(high, int)) or low > high:
            raise ValueError(
                f"`randint: [low, high]` takes integers with low <= high (both included); got {[low, high]}"
            )
        if max(abs(low), abs(high)) > RANDINT_LIMIT:
            raise ValueError(
                f"`randint: [low, high]` bounds must lie within ±2**53 ({RANDINT_LIMIT:,}); got {_shown([low, high])}"
            )
    elif low >= high:
        raise ValueError(f"`{kind}: [low, high]` needs low < high; got {[low, high]}")
    elif kind == "loguniform" and low <= 0:
        raise ValueError(f"`loguniform: [low, high]` needs low > 0; got {low}")


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
            check_json(list(args), "`choice`")
            return self
        numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        # a randint bound beyond float range is reported against RANDINT_LIMIT below
        finite = all(_finite(n) or (kind == "randint" and isinstance(n, int)) for n in numbers)
        if len(args) != 2 or len(numbers) != 2 or not finite:
            raise ValueError(f"`{kind}` takes two finite numbers, e.g. `{{{kind}: [1, 10]}}`; got {_shown(args)}")
        _check_bounds(kind, numbers[0], numbers[1])
        for u in _EDGES:
            value = self.draw(u)
            if not _finite(value):
                raise ValueError(
                    f"`{kind}: {_shown(args)}` draws {value} near quantile {u:.3g}: its values overflow a 64-bit "
                    f"float (at most ±{sys.float_info.max:.4g}); narrow the range"
                )
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
