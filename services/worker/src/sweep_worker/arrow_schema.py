"""The Arrow schema of the points table, built from the one column list in `sweep_contracts.schema`.

A module of its own so that importing the sink does not import pyarrow."""

from __future__ import annotations

import pyarrow as pa

from sweep_contracts.schema import POINTS_TABLE, Column

_ARROW_TYPES: dict[str, pa.DataType] = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
    "map<string,double>": pa.map_(pa.string(), pa.float64()),
}


def arrow_field(column: Column) -> pa.Field:
    return pa.field(column.name, _ARROW_TYPES[column.type], nullable=column.nullable)


POINTS_SCHEMA = pa.schema([arrow_field(c) for c in POINTS_TABLE.columns])
