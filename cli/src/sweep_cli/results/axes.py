"""Typed axis columns: the `params` map holds every value as text (so one Glue table serves every
run), and each run's `points` view adds one column per axis, cast to the type its values share.

A column is named like its axis. New runs cannot name an axis like one of sweep's own columns, in
any case (`request.check_parameter_names`); in runs planned before, such an axis (`status`, `Repeat`,
…) gets the column `param_<axis>`. Types: all booleans → boolean, all integers → bigint,
all numbers → double, anything else → the text as stored. The cast is `TRY_CAST`, so a point that
does not set the axis (another series) reads NULL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import JsonValue

from sweep_contracts.points import GridSeries, ListSeries, PointSpace, SampleSeries
from sweep_contracts.request import SweepRequest
from sweep_contracts.schema import reserved_column

SqlType = Literal["boolean", "bigint", "double", "varchar"]
Dialect = Literal["duckdb", "athena"]
_SAMPLE_PROBES = 64


def _type_of(values: Iterable[JsonValue]) -> SqlType:
    kinds = {"bool" if isinstance(v, bool) else type(v).__name__ for v in values}
    if kinds == {"bool"}:
        return "boolean"
    if kinds == {"int"}:
        return "bigint"
    if kinds and kinds <= {"int", "float"}:
        return "double"
    return "varchar"


def _values(space: PointSpace) -> Iterator[tuple[str, JsonValue]]:
    for series in space.series:
        if isinstance(series, GridSeries):
            params: Iterable[dict[str, JsonValue]] = (p for _, p in series.probe_params())
        elif isinstance(series, ListSeries):
            params = (series.params(i) for i in range(series.size))
        elif isinstance(series, SampleSeries):
            params = (series.params(i) for i in range(min(series.size, _SAMPLE_PROBES)))
        else:
            params = ()
        for point in params:
            yield from point.items()


def axis_types(request: SweepRequest) -> dict[str, SqlType]:
    """Each axis of the request, in first-seen order, with the SQL type its values share."""
    seen: dict[str, list[Any]] = {}
    for axis, value in _values(PointSpace(request, request.config)):
        seen.setdefault(axis, []).append(value)
    return {axis: _type_of(values) for axis, values in seen.items()}


def column_name(axis: str) -> str:
    """The axis's column: `param_<axis>` for a name of sweep's own, ignoring case, as SQL does (new
    runs cannot have one, `request.check_parameter_names`; runs planned before can)."""
    return f"param_{axis}" if reserved_column(axis) else axis


def axis_select(request: SweepRequest, dialect: Dialect) -> str:
    """`, TRY_CAST(params['x'] AS double) AS "x", …` for the run's `points` view ('' without axes).
    Axis names match `AXIS_PATTERN` (no quotes), so they are safe inside quotes."""
    parts = []
    for axis, sql_type in axis_types(request).items():
        value = f"params['{axis}']" if dialect == "duckdb" else f"element_at(params, '{axis}')"
        cast = value if sql_type == "varchar" else f"TRY_CAST({value} AS {sql_type.upper()})"
        parts.append(f'{cast} AS "{column_name(axis)}"')
    return "".join(f", {part}" for part in parts)
