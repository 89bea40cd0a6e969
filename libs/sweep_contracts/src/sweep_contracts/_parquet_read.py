"""The outcome file reader, in pure Python, so that `status` reads the Parquet columns without pyarrow.

It reads flat files whose pages are uncompressed and PLAIN-encoded (what `_parquet` writes, and
what pyarrow writes with `compression="none", use_dictionary=False`); anything else is refused
with a `ParquetFormatError` that says which feature it met, never misread.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from typing import Any

from sweep_contracts._parquet import (
    BYTE_ARRAY,
    DATA_PAGE,
    DOUBLE,
    EPOCH,
    FLOAT,
    INT32,
    INT64,
    MAGIC,
    OPTIONAL,
    PLAIN,
    TIMESTAMP_MICROS,
    TIMESTAMP_MILLIS,
    UNCOMPRESSED,
    UTF8,
)
from sweep_contracts._thrift import decode_struct, decode_struct_at
from sweep_contracts.errors import ParquetFormatError

_FIXED = {INT32: "i", INT64: "q", FLOAT: "f", DOUBLE: "d"}
_UNIT_MICROS = {1: 1000, 2: 1, 3: None}  # TimeUnit field id -> microseconds per unit (None: nanos)
_HINT = "write outcomes with sweep's writer, or with pyarrow using compression='none', use_dictionary=False."


def _footer(data: bytes) -> dict[int, Any]:
    if len(data) < 12 or data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ParquetFormatError("this is not a Parquet file (its magic bytes are missing).")
    (length,) = struct.unpack("<i", data[-8:-4])
    if not 0 < length <= len(data) - 12:
        raise ParquetFormatError(f"the Parquet footer length {length} does not fit a file of {len(data)} bytes.")
    try:
        return decode_struct(data[-8 - length : -8])
    except (ValueError, IndexError) as exc:
        raise ParquetFormatError(f"the Parquet footer is damaged: {exc}.") from exc


def _levels(data: bytes, pos: int, count: int) -> tuple[list[bool], int]:
    """Definition levels of a flat optional column (bit width 1): RLE and bit-packed runs."""
    (length,) = struct.unpack_from("<i", data, pos)
    pos, end = pos + 4, pos + 4 + length
    defined: list[bool] = []
    while len(defined) < count and pos < end:
        header, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            header |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if header & 1:  # bit-packed: groups of 8 values, one bit each
            groups = header >> 1
            for byte in data[pos : pos + groups]:
                defined.extend(bool(byte >> bit & 1) for bit in range(8))
            pos += groups
        else:
            defined.extend([bool(data[pos])] * (header >> 1))
            pos += 1
    if len(defined) < count:
        raise ParquetFormatError(f"a page holds {len(defined)} definition levels for {count} values.")
    return defined[:count], end


def _plain(physical: int, data: bytes, pos: int, count: int) -> list[Any]:
    if physical in _FIXED:
        code = _FIXED[physical]
        return list(struct.unpack_from(f"<{count}{code}", data, pos))
    if physical == BYTE_ARRAY:
        values: list[Any] = []
        for _ in range(count):
            (size,) = struct.unpack_from("<i", data, pos)
            values.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return values
    raise ParquetFormatError(f"Parquet physical type {physical} is not one an outcome uses.")


def _chunk(data: bytes, name: str, element: dict[int, Any], meta: dict[int, Any]) -> list[Any]:
    """Every value of one column chunk, None where a row has none."""
    if meta.get(4, UNCOMPRESSED) != UNCOMPRESSED:
        raise ParquetFormatError(
            f"column `{name}` is compressed (codec {meta[4]}); outcomes are read uncompressed.", hint=_HINT
        )
    optional = element.get(3) == OPTIONAL
    physical, wanted, pos = meta[1], meta[5], meta[9]
    out: list[Any] = []
    while len(out) < wanted:
        body, header = _page_header(data, pos)
        if header.get(1) != DATA_PAGE:
            raise ParquetFormatError(
                f"column `{name}` has a page of type {header.get(1)} (a dictionary or v2 data page); "
                "outcomes are read from PLAIN v1 data pages.",
                hint=_HINT,
            )
        page = header[5]
        count, page_end = page[1], body + header[3]
        if page.get(2) != PLAIN:
            raise ParquetFormatError(
                f"column `{name}` is encoded with {page.get(2)} (a dictionary?), not PLAIN.", hint=_HINT
            )
        defined = [True] * count
        if optional:
            defined, body = _levels(data, body, count)
        values = iter(_plain(physical, data, body, sum(defined)))
        out.extend(next(values) if d else None for d in defined)
        pos = page_end
    return out


def _page_header(data: bytes, pos: int) -> tuple[int, dict[int, Any]]:
    try:
        header, end = decode_struct_at(data, pos)
    except (ValueError, IndexError) as exc:
        raise ParquetFormatError(f"a page header at byte {pos} is damaged: {exc}.") from exc
    return end, header


def _convert(element: dict[int, Any], values: list[Any]) -> list[Any]:
    """Strings from UTF-8 bytes and timestamps from integers, as the schema annotates them."""
    logical = element.get(10) or {}
    if element.get(6) == UTF8 or 1 in logical:
        return [v.decode() if v is not None else None for v in values]
    unit = None
    if element.get(6) == TIMESTAMP_MILLIS:
        unit = 1000
    elif element.get(6) == TIMESTAMP_MICROS:
        unit = 1
    elif 8 in logical:
        (unit_id,) = logical[8].get(2, {1: {}})
        unit = _UNIT_MICROS[unit_id]
        if unit is None:
            return [_at(v // 1000) if v is not None else None for v in values]
    if unit is None:
        return values
    return [_at(v * unit) if v is not None else None for v in values]


def _at(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def read_flat(data: bytes) -> list[dict[str, Any]]:
    """The rows of a flat Parquet file, as dicts keyed by column name."""
    footer = _footer(data)
    schema = footer.get(2) or []
    leaves = schema[1:]
    if any(4 not in e or e.get(5) for e in leaves):
        raise ParquetFormatError("this Parquet file has nested columns; an outcome file is flat.")
    names = [e[4].decode() for e in leaves]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    try:
        for group in footer.get(4) or []:
            for name, element, chunk in zip(names, leaves, group[1], strict=True):
                columns[name].extend(_convert(element, _chunk(data, name, element, chunk[3])))
    except (KeyError, IndexError, ValueError, struct.error) as exc:
        raise ParquetFormatError(f"this Parquet file is damaged or not flat: {exc!r}.") from exc
    rows = footer.get(3, 0)
    return [{name: columns[name][i] for name in names} for i in range(rows)]
