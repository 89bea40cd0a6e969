"""Arrow arrays built from numpy buffers, never through `pyarrow.array`.

Why: `pyarrow.array` (and `pyarrow.scalar`) asks, on its first call in a process, whether pandas is
installed, and imports it to find out. In the local pool, where the CLI's pandas is installed, that
cost each worker process ~0.6 s at its first shard, for nothing: the worker writes no DataFrame.
An array assembled from buffers (`Array.from_buffers`) never asks (tests/unit/test_arrow_buffers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


_NUMPY = {"int32": np.int32, "int64": np.int64, "double": np.float64}


def _validity(values: Sequence[object]) -> tuple[pa.Buffer | None, int]:
    import pyarrow as pa

    present = np.fromiter((v is not None for v in values), dtype=np.bool_, count=len(values))
    nulls = len(values) - int(present.sum())
    return (pa.py_buffer(np.packbits(present, bitorder="little")) if nulls else None), nulls


def numbers(values: Sequence[float | int] | np.ndarray, kind: pa.DataType) -> pa.Array:
    """A non-null numeric array (int32, int64 or float64) of `values`."""
    import pyarrow as pa

    data = np.ascontiguousarray(values, dtype=_NUMPY[str(kind)])
    return pa.Array.from_buffers(kind, len(data), [None, pa.py_buffer(data)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string array of `values`, None as null."""
    import pyarrow as pa

    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise OverflowError(f"{offsets[-1]:,} bytes of text in one column of a shard; use a smaller shard_size")
    validity, nulls = _validity(values) if None in values else (None, 0)
    buffers = [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers, null_count=nulls)


def same_text(value: str | None, count: int) -> pa.Array:
    """`count` times the same text (or null)."""
    import pyarrow as pa

    if value is None:
        return pa.nulls(count, pa.string())
    return strings([value]).take(numbers(np.zeros(count, dtype=np.int64), pa.int64()))
