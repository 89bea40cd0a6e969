"""Thrift compact protocol, the encoding of Parquet's page headers and footer.

Values to encode are tagged tuples: ("i32", 5), ("i64", 5), ("bin", b"x"), ("bool", True),
("i8", 1), ("struct", {field_id: value}), ("list", element_kind, [values]).
Decoding gives plain Python: structs as {field_id: value}, lists as lists, binary as bytes.
"""

from __future__ import annotations

from typing import Any

_BOOL_TRUE, _BOOL_FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_TYPE_CODES = {"i8": _BYTE, "i32": _I32, "i64": _I64, "bin": _BINARY, "list": _LIST, "struct": _STRUCT}

TValue = tuple[Any, ...]


def _varint(n: int, out: bytearray) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _write_value(value: TValue, out: bytearray) -> None:
    kind = value[0]
    if kind in ("i32", "i64"):
        _varint(_zigzag(value[1]), out)
    elif kind == "i8":
        out.append(value[1] & 0xFF)
    elif kind == "bool":
        out.append(_BOOL_TRUE if value[1] else _BOOL_FALSE)
    elif kind == "bin":
        _varint(len(value[1]), out)
        out += value[1]
    elif kind == "struct":
        _write_struct(value[1], out)
    elif kind == "list":
        element, items = value[1], value[2]
        code = _TYPE_CODES[element]
        if len(items) < 15:
            out.append((len(items) << 4) | code)
        else:
            out.append(0xF0 | code)
            _varint(len(items), out)
        for item in items:
            _write_value((element, item) if element != "list" else item, out)
    else:
        raise ValueError(f"cannot encode thrift value of kind {kind!r}")


def _write_struct(fields: dict[int, TValue], out: bytearray) -> None:
    last = 0
    for field_id in sorted(fields):
        value = fields[field_id]
        code = (_BOOL_TRUE if value[1] else _BOOL_FALSE) if value[0] == "bool" else _TYPE_CODES[value[0]]
        delta = field_id - last
        if 0 < delta <= 15:
            out.append((delta << 4) | code)
        else:
            out.append(code)
            _varint(_zigzag(field_id), out)
        last = field_id
        if value[0] != "bool":
            _write_value(value, out)
    out.append(0)


def encode_struct(fields: dict[int, TValue]) -> bytes:
    out = bytearray()
    _write_struct(fields, out)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, code: int) -> Any:  # noqa: PLR0911 - one return per wire type
        if code in (_BOOL_TRUE, _BOOL_FALSE):
            return code == _BOOL_TRUE
        if code == _BYTE:
            return self.byte()
        if code in (_I16, _I32, _I64):
            return self.zigzag()
        if code == _DOUBLE:
            self.pos += 8
            return None
        if code == _BINARY:
            n = self.varint()
            self.pos += n
            return self.data[self.pos - n : self.pos]
        if code in (_LIST, _SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if element in (_BOOL_TRUE, _BOOL_FALSE):
                return [self.byte() == _BOOL_TRUE for _ in range(size)]
            return [self.value(element) for _ in range(size)]
        if code == _MAP:
            size = self.varint()
            if not size:
                return {}
            kinds = self.byte()
            return {self.value(kinds >> 4): self.value(kinds & 0x0F) for _ in range(size)}
        if code == _STRUCT:
            return self.struct()
        raise ValueError(f"unknown thrift compact type {code} at byte {self.pos}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, code = header >> 4, header & 0x0F
            field_id = last + delta if delta else self.zigzag()
            fields[field_id] = self.value(code)
            last = field_id


def decode_struct(data: bytes) -> dict[int, Any]:
    """Decode one compact-protocol struct; raises ValueError or IndexError on damaged input."""
    return _Reader(data).struct()


def decode_struct_at(data: bytes, pos: int) -> tuple[dict[int, Any], int]:
    """Decode the struct that starts at byte `pos`; also give the position just after it."""
    reader = _Reader(data)
    reader.pos = pos
    return reader.struct(), reader.pos
