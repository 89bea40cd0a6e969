"""A small Parquet writer for flat tables, in pure Python: uncompressed, PLAIN-encoded, one row group.

It exists so that every package can write a shard outcome — the orchestrator records
`DISPATCH_FAILED` without pyarrow — and so that the same rows can be read back cheaply: the rows
are also kept, as JSON, in the footer's key-value metadata under `sweep.rows`.
Athena, DuckDB and pyarrow read these files like any other Parquet.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sweep_contracts._thrift import TValue, decode_struct, encode_struct
from sweep_contracts.errors import ParquetFormatError
from sweep_contracts.schema import Column, Table

MAGIC = b"PAR1"
ROWS_KEY = "sweep.rows"
CREATED_BY = "sweep (pure-python flat writer)"

# Parquet enums (parquet.thrift)
_BOOLEAN, _INT32, _INT64, _DOUBLE, _BYTE_ARRAY = 0, 1, 2, 5, 6
_REQUIRED, _OPTIONAL = 0, 1
_UTF8, _TIMESTAMP_MILLIS = 0, 9
_PLAIN, _RLE = 0, 3
_DATA_PAGE = 0
_UNCOMPRESSED = 0

_PHYSICAL = {"int32": _INT32, "int64": _INT64, "double": _DOUBLE, "string": _BYTE_ARRAY, "timestamp": _INT64}


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return int(value.timestamp() * 1000)


def _plain(column: Column, values: Sequence[Any]) -> bytes:
    n = len(values)
    if column.type == "int32":
        return struct.pack(f"<{n}i", *values)
    if column.type == "int64":
        return struct.pack(f"<{n}q", *values)
    if column.type == "double":
        return struct.pack(f"<{n}d", *values)
    if column.type == "timestamp":
        return struct.pack(f"<{n}q", *(_epoch_ms(v) for v in values))
    if column.type == "string":
        out = bytearray()
        for value in values:
            data = value.encode()
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
        3: ("i32", _OPTIONAL if column.nullable else _REQUIRED),
        4: ("bin", column.name.encode()),
    }
    if column.type == "string":
        fields[6] = ("i32", _UTF8)
        fields[10] = ("struct", {1: ("struct", {})})
    elif column.type == "timestamp":
        fields[6] = ("i32", _TIMESTAMP_MILLIS)
        fields[10] = ("struct", {8: ("struct", {1: ("bool", True), 2: ("struct", {1: ("struct", {})})})})
    return ("struct", fields)


def write_flat(table: Table, rows: Sequence[Mapping[str, Any]], metadata: Mapping[str, str] | None = None) -> bytes:
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
                1: ("i32", _DATA_PAGE),
                2: ("i32", len(body)),
                3: ("i32", len(body)),
                5: ("struct", {1: ("i32", len(rows)), 2: ("i32", _PLAIN), 3: ("i32", _RLE), 4: ("i32", _RLE)}),
            }
        )
        offset, size = len(out), len(header) + len(body)
        out += header + body
        meta: dict[int, TValue] = {
            1: ("i32", _PHYSICAL[column.type]),
            2: ("list", "i32", [_PLAIN, _RLE]),
            3: ("list", "bin", [column.name.encode()]),
            4: ("i32", _UNCOMPRESSED),
            5: ("i64", len(rows)),
            6: ("i64", size),
            7: ("i64", size),
            9: ("i64", offset),
        }
        chunks.append({2: ("i64", offset), 3: ("struct", meta)})
    data_size = len(out) - len(MAGIC)
    key_values = {ROWS_KEY: json.dumps([_jsonable(row) for row in rows], sort_keys=True), **(metadata or {})}
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
            5: ("list", "struct", [{1: ("bin", k.encode()), 2: ("bin", v.encode())} for k, v in key_values.items()]),
            6: ("bin", CREATED_BY.encode()),
        }
    )
    out += footer + struct.pack("<i", len(footer)) + MAGIC
    return bytes(out)


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def read_metadata(data: bytes) -> dict[str, str]:
    """The footer's key-value metadata of a Parquet file."""
    if len(data) < 12 or data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ParquetFormatError("this is not a Parquet file (its magic bytes are missing).")
    (length,) = struct.unpack("<i", data[-8:-4])
    if not 0 < length <= len(data) - 12:
        raise ParquetFormatError(f"the Parquet footer length {length} does not fit a file of {len(data)} bytes.")
    try:
        meta = decode_struct(data[-8 - length : -8])
        pairs = meta.get(5) or []
        return {kv[1].decode(): kv.get(2, b"").decode() for kv in pairs}
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise ParquetFormatError(f"the Parquet footer is damaged: {exc}.") from exc


def read_rows(data: bytes) -> list[dict[str, Any]]:
    """The rows a file from `write_flat` holds, from its footer (no column decoding needed)."""
    meta = read_metadata(data)
    if ROWS_KEY not in meta:
        raise ParquetFormatError(
            f"this Parquet file has no `{ROWS_KEY}` metadata: it was not written by sweep's flat writer."
        )
    rows: list[dict[str, Any]] = json.loads(meta[ROWS_KEY])
    return rows
