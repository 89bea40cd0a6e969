"""Point rows, gathered column by column and written as one Parquet file per shard."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sweep_contracts.schema import clip_log, clip_output, clip_traceback

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported when a shard writes its rows, not with this module: importing the worker
# handler stays cheap at a cold start (tests/unit/test_cold_start.py).


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

        return pa.MapArray.from_arrays(
            pa.array(self.offsets, pa.int32()), pa.array(self.keys, pa.string()), pa.array(self.values, value_type)
        )


class PointRows:
    """The rows of one shard, column by column."""

    def __init__(self, shard_id: int, execution: str | None = None) -> None:
        self.shard_id = shard_id
        self.execution = execution
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
        self.ok = 0
        self.failed = 0

    def __len__(self) -> int:
        return len(self.point_index)

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
        self.add_point(
            point_index,
            series,
            repeat,
            list(params),
            list(params.values()),
            metrics,
            error,
            duration_ms,
            config_json,
            finished_at_ms,
            output,
            call_json,
            traceback,
            log,
        )

    def add_point(  # one argument per column: the per-point path builds no row dict
        self,
        point_index: int,
        series: str,
        repeat: int,
        param_names: Sequence[str],
        param_texts: Sequence[str],
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
        """`add` with the parameters as two parallel lists, positionally."""
        self.point_index.append(point_index)
        self.series.append(series)
        self.repeat.append(repeat)
        self.params.extend(param_names, param_texts)
        self.metrics.append(metrics)
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
        self.duration_ms.append(duration_ms)
        self.config_json.append(config_json)
        self.finished_at_ms.append(finished_at_ms)
        # The experiment cuts and flags its own output; this keeps the column bounded regardless.
        self.output.append(None if output is None else clip_output(output)[0])
        self.call_json.append(call_json)
        self.traceback.append(None if traceback is None else clip_traceback(traceback))
        self.log.append(None if log is None else clip_log(log))

    def to_table(self) -> pa.Table:
        import pyarrow as pa

        from sweep_worker.arrow_schema import POINTS_SCHEMA

        n = len(self)
        columns = {
            "shard_id": pa.array([self.shard_id] * n, pa.int32()),
            "point_index": pa.array(self.point_index, pa.int64()),
            "series": pa.array(self.series, pa.string()),
            "repeat": pa.array(self.repeat, pa.int32()),
            "params": self.params.to_arrow(pa.string()),
            "metrics": self.metrics.to_arrow(pa.float64()),
            "status": pa.array(self.status, pa.string()),
            "error_type": pa.array(self.error_type, pa.string()),
            "error_message": pa.array(self.error_message, pa.string()),
            "duration_ms": pa.array(self.duration_ms, pa.float64()),
            "config_json": pa.array(self.config_json, pa.string()),
            # a view, not a cast: the same array, and cast imports pyarrow.compute (~0.1 s of a cold start)
            "finished_at": pa.array(self.finished_at_ms, pa.int64()).view(pa.timestamp("ms", tz="UTC")),
            "output": pa.array(self.output, pa.string()),
            "call_json": pa.array(self.call_json, pa.string()),
            "traceback": pa.array(self.traceback, pa.string()),
            "log": pa.array(self.log, pa.string()),
            "execution": pa.array([self.execution] * n, pa.string()),
        }
        return pa.Table.from_arrays([columns[name] for name in POINTS_SCHEMA.names], schema=POINTS_SCHEMA)

    def to_parquet(self) -> bytes:
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(self.to_table(), buffer, compression="zstd")
        return buffer.getvalue()
