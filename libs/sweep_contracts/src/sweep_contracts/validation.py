"""Pydantic's validation errors, translated into sweep's field problems and wording."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from sweep_contracts.errors import FieldProblem


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
