"""Point rows, gathered column by column and written as one Parquet file per shard."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sweep_contracts.outcomes import SeriesTally
from sweep_contracts.schema import clip_log, clip_output, clip_traceback
from sweep_worker._arrow import numbers, same_text, strings
from sweep_worker.row import PointRow

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported when a shard writes its rows, not with this module: importing the worker
# handler stays cheap at a cold start (tests/functional/test_cold_start.py).


MAX_TALLY_SERIES = 1000
"""A shard with more series than this writes no per-series tally in its outcome (it would make the
outcome file large); a search's round has one series per trial, far fewer."""

DICTIONARY_COLUMNS = [
    "series",
    "params.key_value.key",
    "params.key_value.value",
    "metrics.key_value.key",
    "status",
    "error_type",
    "error_message",
    "output",
    "call_json",
    "traceback",
    "log",
    "execution",
]
"""Columns whose values repeat within a shard. The others (config_json, point_index, timings,
metric values) are nearly all distinct: a dictionary page for them is built only to be dropped,
and a 100,000-point shard wrote ~40% slower and ~30% larger with it (issue 13; the schema and
the values read back are unchanged, only the encoding)."""


class _MapColumn:
    def __init__(self) -> None:
        self.offsets = [0]
        self.keys: list[str] = []
        self.values: list[object] = []

    def append(self, mapping: Mapping[str, object]) -> None:
        self.keys.extend(mapping)
        self.values.extend(mapping.values())
        self.offsets.append(len(self.keys))

    def extend(self, keys: Sequence[str], values: Sequence[object]) -> None:
        """One map of `keys` to `values`, in order."""
        self.keys.extend(keys)
        self.values.extend(values)
        self.offsets.append(len(self.keys))

    def to_arrow(self, value_type: pa.DataType) -> pa.Array:
        import pyarrow as pa

        values = strings(self.values) if value_type == pa.string() else numbers(self.values, value_type)  # type: ignore[arg-type]
        return pa.MapArray.from_arrays(numbers(self.offsets, pa.int32()), strings(self.keys), values)


class PointRows:
    """The rows of one shard, column by column."""

    def __init__(self, shard_id: int, execution: str | None = None) -> None:
        self.shard_id = shard_id
        self.execution = execution
        self._pieces: list[dict[str, pa.Array]] = []
        """Rows already in Arrow form, in index order: chunks a batch gave, and the lists before them."""
        self._in_pieces = 0
        self._table: tuple[int, str | None, pa.Table] | None = None
        """The last `to_table`, with the row count and execution it was built for: the outcome's
        tally and the Parquet file read the same table, built once."""
        self._lists()
        self.ok = 0
        self.failed = 0

    def _lists(self) -> None:
        self.point_index: list[int] = []
        self.series: list[str] = []
        self.repeat: list[int] = []
        self.params = _MapColumn()
        self.metrics = _MapColumn()
        self.status: list[str] = []
        self.error_type: list[str | None] = []
        self.error_message: list[str | None] = []
        self.duration_ms: list[float] = []
        self.config_json: list[str] = []
        self.finished_at_ms: list[int] = []
        self.output: list[str | None] = []
        self.call_json: list[str | None] = []
        self.traceback: list[str | None] = []
        self.log: list[str | None] = []

    def __len__(self) -> int:
        return self._in_pieces + len(self.point_index)

    def add_columns(self, count: int, columns: Mapping[str, pa.Array]) -> None:
        """`count` ok rows at once, one Arrow array per column but `shard_id` and `execution`
        (a batch's rows, built column-wise: `sweep_worker.columns`). Rows keep their order."""
        if self.point_index:
            self._pieces.append(self._columns())
            self._in_pieces += len(self.point_index)
            self._lists()
        self._pieces.append(dict(columns))
        self._in_pieces += count
        self.ok += count

    def add(
        self,
        *,
        point_index: int,
        series: str,
        repeat: int,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        error: tuple[str, str] | None,
        duration_ms: float,
        config_json: str,
        finished_at_ms: int,
        output: str | None = None,
        call_json: str | None = None,
        traceback: str | None = None,
        log: str | None = None,
    ) -> None:
        """A row given column by column (benchmarks and tests write rows of their own this way; the
        worker's rows come from `RowBuilder.row`)."""
        row = PointRow(
            point_index, series, repeat, list(params), list(params.values()), metrics, error, duration_ms,
            config_json, finished_at_ms, output, call_json, traceback, log,
        )  # fmt: skip
        self.add_row(row)

    def add_row(self, row: PointRow) -> None:
        """One point's row, after those added before it."""
        self.point_index.append(row.point_index)
        self.series.append(row.series)
        self.repeat.append(row.repeat)
        self.params.extend(row.param_names, row.param_texts)
        self.metrics.append(row.metrics)
        error = row.error
        if error is None:
            self.status.append("ok")
            self.error_type.append(None)
            self.error_message.append(None)
            self.ok += 1
        else:
            self.status.append("error")
            self.error_type.append(error[0])
            self.error_message.append(error[1])
            self.failed += 1
        self.duration_ms.append(row.duration_ms)
        self.config_json.append(row.config_json)
        self.finished_at_ms.append(row.finished_at_ms)
        # The experiment cuts and flags its own output; this keeps the column bounded regardless.
        output, traceback, log = row.output, row.traceback, row.log
        self.output.append(None if output is None else clip_output(output)[0])
        self.call_json.append(row.call_json)
        self.traceback.append(None if traceback is None else clip_traceback(traceback))
        self.log.append(None if log is None else clip_log(log))

    def _columns(self) -> dict[str, pa.Array]:
        """The rows gathered in lists, as Arrow arrays."""
        import pyarrow as pa

        return {
            "point_index": numbers(self.point_index, pa.int64()),
            "series": strings(self.series),
            "repeat": numbers(self.repeat, pa.int32()),
            "params": self.params.to_arrow(pa.string()),
            "metrics": self.metrics.to_arrow(pa.float64()),
            "status": strings(self.status),
            "error_type": strings(self.error_type),
            "error_message": strings(self.error_message),
            "duration_ms": numbers(self.duration_ms, pa.float64()),
            "config_json": strings(self.config_json),
            # a view, not a cast: the same array, and cast imports pyarrow.compute (~0.1 s of a cold start)
            "finished_at": numbers(self.finished_at_ms, pa.int64()).view(pa.timestamp("ms", tz="UTC")),
            "output": strings(self.output),
            "call_json": strings(self.call_json),
            "traceback": strings(self.traceback),
            "log": strings(self.log),
        }

    def to_table(self) -> pa.Table:
        import pyarrow as pa

        from sweep_worker.arrow_schema import POINTS_SCHEMA

        n = len(self)
        if self._table is not None and self._table[:2] == (n, self.execution):
            return self._table[2]
        pieces = [*self._pieces, self._columns()] if self.point_index or not self._pieces else self._pieces
        columns = {
            name: pieces[0][name] if len(pieces) == 1 else pa.concat_arrays([piece[name] for piece in pieces])
            for name in pieces[0]
        }
        columns["shard_id"] = numbers([self.shard_id] * n, pa.int32())
        columns["execution"] = same_text(self.execution, n)
        table = pa.Table.from_arrays([columns[name] for name in POINTS_SCHEMA.names], schema=POINTS_SCHEMA)
        self._table = (n, self.execution, table)
        return table

    def to_parquet(self) -> bytes:
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(self.to_table(), buffer, compression="zstd", use_dictionary=DICTIONARY_COLUMNS)
        return buffer.getvalue()

    def tally(self) -> dict[str, SeriesTally] | None:
        """The rows summed per series (`SeriesTally`), for the outcome; None past MAX_TALLY_SERIES."""
        return tally_table(self.to_table())


def tally_table(table: pa.Table) -> dict[str, SeriesTally] | None:
    """Per series of a points table: points ok and failed, and per metric the sum and count of
    its finite values over the ok points. Plain Python over the columns' values: pyarrow.compute
    would cost a worker's first shard ~0.1 s of imports (and pulls pandas in)."""
    series = table.column("series").to_pylist()
    ok = [status == "ok" for status in table.column("status").to_pylist()]
    if len(set(series)) > MAX_TALLY_SERIES:
        return None
    tallies: dict[str, tuple[list[int], dict[str, float], dict[str, int]]] = {}
    for name, good in zip(series, ok, strict=True):
        counted = tallies.setdefault(name, ([0, 0], {}, {}))[0]
        counted[0 if good else 1] += 1
    row = 0
    for chunk in table.column("metrics").chunks:
        # offsets index the chunk's whole key and value children, whatever slice the chunk is
        offsets, keys, values = chunk.offsets.to_pylist(), chunk.keys.to_pylist(), chunk.items.to_pylist()
        for i in range(len(chunk)):
            if ok[row]:
                _, sums, counts = tallies[series[row]]
                for key, value in zip(
                    keys[offsets[i] : offsets[i + 1]], values[offsets[i] : offsets[i + 1]], strict=True
                ):
                    if value is not None and math.isfinite(value):
                        sums[key] = sums.get(key, 0.0) + value
                        counts[key] = counts.get(key, 0) + 1
            row += 1
    return {
        name: SeriesTally(ok=counted[0], failed=counted[1], sums=sums, counts=counts)
        for name, (counted, sums, counts) in tallies.items()
    }
