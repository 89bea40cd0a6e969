"""The outcome file writer, in pure Python: uncompressed, PLAIN-encoded, one row group.

It exists so that every package can write a shard outcome — the orchestrator records
`DISPATCH_FAILED` without pyarrow. Athena, DuckDB and pyarrow read these files like any other
Parquet; `_parquet_read` reads them (and any plain, uncompressed flat file) back for `status`.
Why outcomes are Parquet read back by hand, and not a second encoding: docs/storage.md.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sweep_contracts._thrift import TValue, encode_struct
from sweep_contracts.schema import Column, Table, stored_text

MAGIC = b"PAR1"
CREATED_BY = "sweep (pure-python flat writer)"

# Parquet enums (parquet.thrift)
BOOLEAN, INT32, INT64, FLOAT, DOUBLE, BYTE_ARRAY = 0, 1, 2, 4, 5, 6
REQUIRED, OPTIONAL = 0, 1
UTF8, TIMESTAMP_MILLIS, TIMESTAMP_MICROS = 0, 9, 10
PLAIN, RLE = 0, 3
DATA_PAGE = 0
UNCOMPRESSED = 0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_PHYSICAL = {"int32": INT32, "double": DOUBLE, "string": BYTE_ARRAY, "timestamp": INT64}


def _epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch, rounded down: 1969-12-31T23:59:59.9995Z is -1, not 0."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return (value - EPOCH) // timedelta(milliseconds=1)


def _plain(column: Column, values: Sequence[Any]) -> bytes:
    n = len(values)
    if column.type == "int32":
        return struct.pack(f"<{n}i", *values)
    if column.type == "double":
        return struct.pack(f"<{n}d", *values)
    if column.type == "timestamp":
        return struct.pack(f"<{n}q", *(_epoch_ms(v) for v in values))
    if column.type == "string":
        out = bytearray()
        for value in values:
            data = stored_text(value)
            out += struct.pack("<i", len(data)) + data
        return bytes(out)
    raise ValueError(f"column `{column.name}`: the flat writer cannot write {column.type}")


def _levels(defined: Sequence[bool]) -> bytes:
    """Definition levels (bit width 1) as RLE runs of the RLE/bit-packed hybrid encoding."""
    out = bytearray()
    i = 0
    while i < len(defined):
        j = i
        while j < len(defined) and defined[j] == defined[i]:
            j += 1
        run = (j - i) << 1
        while True:
            byte = run & 0x7F
            run >>= 7
            out.append(byte | 0x80 if run else byte)
            if not run:
                break
        out.append(1 if defined[i] else 0)
        i = j
    return struct.pack("<i", len(out)) + bytes(out)


def _schema_element(column: Column) -> TValue:
    fields: dict[int, TValue] = {
        1: ("i32", _PHYSICAL[column.type]),
        3: ("i32", OPTIONAL if column.nullable else REQUIRED),
        4: ("bin", column.name.encode()),
    }
    if column.type == "string":
        fields[6] = ("i32", UTF8)
        fields[10] = ("struct", {1: ("struct", {})})
    elif column.type == "timestamp":
        fields[6] = ("i32", TIMESTAMP_MILLIS)
        fields[10] = ("struct", {8: ("struct", {1: ("bool", True), 2: ("struct", {1: ("struct", {})})})})
    return ("struct", fields)


def write_flat(table: Table, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Encode `rows` (dicts keyed by column name) as a Parquet file with `table`'s columns."""
    if not rows:
        raise ValueError("the flat writer needs at least one row")
    out = bytearray(MAGIC)
    chunks: list[dict[int, TValue]] = []
    for column in table.columns:
        values = [row[column.name] for row in rows]
        present = [v is not None for v in values]
        if not column.nullable and not all(present):
            raise ValueError(f"column `{column.name}` is not nullable but a row has no value")
        body = (_levels(present) if column.nullable else b"") + _plain(column, [v for v in values if v is not None])
        header = encode_struct(
            {
                1: ("i32", DATA_PAGE),
                2: ("i32", len(body)),
                3: ("i32", len(body)),
                5: ("struct", {1: ("i32", len(rows)), 2: ("i32", PLAIN), 3: ("i32", RLE), 4: ("i32", RLE)}),
            }
        )
        offset, size = len(out), len(header) + len(body)
        out += header + body
        meta: dict[int, TValue] = {
            1: ("i32", _PHYSICAL[column.type]),
            2: ("list", "i32", [PLAIN, RLE]),
            3: ("list", "bin", [column.name.encode()]),
            4: ("i32", UNCOMPRESSED),
            5: ("i64", len(rows)),
            6: ("i64", size),
            7: ("i64", size),
            9: ("i64", offset),
        }
        chunks.append({2: ("i64", offset), 3: ("struct", meta)})
    data_size = len(out) - len(MAGIC)
    footer = encode_struct(
        {
            1: ("i32", 1),
            2: (
                "list",
                "struct",
                [{4: ("bin", b"schema"), 5: ("i32", len(table.columns))}]
                + [_schema_element(c)[1] for c in table.columns],
            ),
            3: ("i64", len(rows)),
            4: ("list", "struct", [{1: ("list", "struct", chunks), 2: ("i64", data_size), 3: ("i64", len(rows))}]),
            6: ("bin", CREATED_BY.encode()),
        }
    )
    out += footer + struct.pack("<i", len(footer)) + MAGIC
    return bytes(out)
