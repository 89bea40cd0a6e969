"""Arrow arrays built from buffers, never through `pyarrow.array`.

Why: `pyarrow.array` (and `pyarrow.scalar`) asks, on its first call in a process, whether pandas is
installed, and imports it to find out. In the local pool, where the CLI's pandas is installed, that
cost each worker process ~0.6 s at its first shard, for nothing: the worker writes no DataFrame.
An array assembled from buffers (`Array.from_buffers`) never asks (tests/unit/test_arrow_buffers.py).
Buffers come from the standard library's `array` (the worker artifact ships no numpy) or from any
object with the buffer protocol and the right item size (a numpy array, locally)."""

from __future__ import annotations

import importlib.util
from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from sweep_contracts.schema import TEXT_ERRORS, stored_text

if TYPE_CHECKING:
    import pyarrow as pa

# numpy locally (the CLI's); the worker artifact has none and builds offsets with `array`, slower
_NUMPY = importlib.util.find_spec("numpy") is not None

_TYPECODES = {"int32": "i", "int64": "q", "double": "d"}
_INT32_MAX = 2**31 - 1


def numbers(values: Any, kind: pa.DataType) -> pa.Array:
    """A non-null numeric array (int32, int64 or float64) of `values`: a sequence, or a buffer of
    items of that type (`array.array`, a numpy array of the matching dtype)."""
    import pyarrow as pa

    code = _TYPECODES[str(kind)]
    try:
        view = memoryview(values)
    except TypeError:  # a list: copied into a buffer
        view = memoryview(array(code, values))
    if view.itemsize != array(code).itemsize or view.ndim != 1:
        raise TypeError(f"a buffer of {view.itemsize}-byte items cannot be an Arrow {kind} array")
    return pa.Array.from_buffers(kind, len(view), [None, pa.py_buffer(view)])


def _validity(values: Sequence[object]) -> pa.Buffer:
    """The validity bitmap of `values` (None is null), packed by Arrow's own cast to boolean."""
    import pyarrow as pa

    present = bytes(v is not None for v in values)
    return pa.Array.from_buffers(pa.uint8(), len(present), [None, pa.py_buffer(present)]).cast(pa.bool_()).buffers()[1]


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string array of `values`, None as null."""
    import pyarrow as pa

    count = len(values)
    nulls = list(values).count(None) if None in values else 0
    if nulls == count:  # a column no row of the shard set (errors, outputs, logs in a good shard)
        return pa.nulls(count, pa.string())
    texts = [v for v in values if v is not None]
    joined = "".join(texts)
    lengths: Iterable[int]
    if joined.isascii():  # one character, one byte: lengths and bytes without a per-value encode
        data, lengths = joined.encode(), [0 if v is None else len(v) for v in values]
    else:  # a lone surrogate is stored as its visible escape, not a failed shard (`schema.TEXT_ERRORS`)
        encoded = [b"" if v is None else v.encode("utf-8", TEXT_ERRORS) for v in values]
        data, lengths = b"".join(encoded), [len(e) for e in encoded]
    if len(data) > _INT32_MAX:
        raise OverflowError(f"{len(data):,} bytes of text in one column of a shard; use a smaller shard_size")
    offsets: Any = array("i", accumulate(lengths, initial=0)) if not _NUMPY else None
    if _NUMPY:
        import numpy as np

        offsets = np.zeros(count + 1, dtype=np.int32)
        np.cumsum(np.fromiter(lengths, dtype=np.int32, count=count), out=offsets[1:])
    validity = _validity(values) if nulls else None
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), count, buffers, null_count=nulls)


def zeros(count: int) -> pa.Array:
    """`count` int64 zeros: indices that take one value `count` times."""
    import pyarrow as pa

    return numbers(array("q", bytes(8 * count)), pa.int64())


def same_text(value: str | None, count: int) -> pa.Array:
    """`count` times the same text (or null), from buffers: `take` would import pyarrow.compute
    (~65 ms of a Lambda worker's first shard) for a column every shard writes (its execution tag)."""
    import pyarrow as pa

    if value is None:
        return pa.nulls(count, pa.string())
    data = stored_text(value)
    if len(data) * count > _INT32_MAX:
        raise OverflowError(f"{len(data) * count:,} bytes of text in one column of a shard; use a smaller shard_size")
    offsets = array("i", range(0, len(data) * (count + 1), len(data))) if data else array("i", bytes(4 * (count + 1)))
    return pa.Array.from_buffers(pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data * count)])
