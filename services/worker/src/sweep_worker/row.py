"""A point's row: `PointRow`, the one typed value that every way of running a point produces — in
this process (`loop`), on a thread (`concurrent`), in a child process (`isolate`), or for a point
that killed its process — built in one place, `RowBuilder`, from the point's index, texts and
config, what evaluating it gave, its timing and the injected clock. `sink.PointRows` takes the rows
(`AddRow`), and a block of a grid's rows column-wise (`AddColumns`, the batch fast path), whose
clock reading and redacted log come from the same builder."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sweep_contracts import redaction
from sweep_contracts._json import canonical_json

if TYPE_CHECKING:
    import pyarrow as pa

    from sweep_worker.columns import GridBlock, GridLayout
    from sweep_worker.texts import PointTexts

Clock = Callable[[], datetime]
"""The wall clock (timezone-aware): outcomes' start and finish, and every row's `finished_at`."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def millis(clock: Clock) -> Callable[[], int]:
    """`clock` as whole milliseconds since the epoch, as a row's `finished_at` stores them. The wall
    clock's are read from `time.time_ns` (the same instant, without building a datetime: a row of the
    per-point path reads the clock once, and a datetime and its arithmetic cost about a microsecond)."""
    if clock is wall_clock:
        return _wall_ms
    return lambda: (clock() - _EPOCH) // _MS


Evaluated = tuple[Mapping[str, float], tuple[str, str] | None, str | None, Mapping[str, Any] | None, str | None]
"""What evaluating a point gave: (its metrics — those measured before it failed, when it failed —,
its error `(type, message)` or None, its output, its call facts, its traceback), the experiment's
text as it gave it. A plain tuple, as `texts.PointTexts` is: one is made per point."""


class PointRow(NamedTuple):
    """One point's row: every column of the points table but `shard_id` and `execution` (which the
    sink adds), its parameters as two parallel sequences. The worker's are made by `RowBuilder.row`.

    A NamedTuple, not a frozen dataclass: immutable and typed alike, but made by `tuple.__new__`.
    A frozen dataclass sets each of its 14 fields through `object.__setattr__`, which cost ~10% of a
    near-zero-cost point's time on the per-point path (21-23 against 24-25 µs of CPU a point; issue 24)."""

    point_index: int
    series: str
    repeat: int
    param_names: Sequence[str]
    param_texts: Sequence[str]
    metrics: Mapping[str, float]
    error: tuple[str, str] | None
    duration_ms: float
    config_json: str
    finished_at_ms: int
    output: str | None
    call_json: str | None
    traceback: str | None
    log: str | None


AddRow = Callable[[PointRow], None]
"""`PointRows.add_row`: where a path's rows go."""
AddColumns = Callable[[int, Mapping[str, Any]], None]
"""`PointRows.add_columns`: a block of ok rows as Arrow arrays."""


class RowBuilder:
    """Every row of a shard, from what a path knows of its point, with the shard's `secrets`
    redacted from the text the experiment wrote and `finished_at` read from `clock`."""

    __slots__ = ("now_ms", "secrets")

    def __init__(self, secrets: Mapping[str, str], clock: Clock = wall_clock) -> None:
        self.secrets = secrets
        self.now_ms = millis(clock)

    def redact(self, text: str | None) -> str | None:
        """`text` with the value of every secret replaced by its name (`sweep_contracts.redaction`)."""
        return None if text is None else redaction.redact(text, self.secrets)

    def row(
        self,
        index: int,
        texts: PointTexts,
        result: Evaluated,
        duration_ms: float,
        log: str | None,
        finished_at_ms: int | None = None,
    ) -> PointRow:
        """Point `index`'s row: its `texts` (`texts.ShardTexts.texts`), what evaluating it gave,
        how long that took, what it printed; finished now, or at `finished_at_ms` (read from
        `now_ms` for a batch of points that finished together)."""
        metrics, error, output, call, trace = result
        secrets, redact = self.secrets, redaction.redact
        return PointRow(
            index,
            texts[0],
            texts[1],
            texts[2],
            texts[3],
            metrics,
            error,
            duration_ms,
            texts[4],
            self.now_ms() if finished_at_ms is None else finished_at_ms,
            # an experiment's own text is written too: a secret it echoes is redacted like an error's
            None if output is None else redact(output, secrets),
            None if call is None else redact(canonical_json(call), secrets),
            None if trace is None else redact(trace, secrets),
            None if log is None else redact(log, secrets),
        )

    def columns(
        self,
        grid: GridLayout,
        block: GridBlock,
        metrics: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]],
        duration_ms: float,
        log: str | None,
        finished_at_ms: int,
    ) -> dict[str, pa.Array]:
        """A block's rows column-wise (`columns.GridBlock.columns`), every point ok with its
        `metrics`: the rows `row` would give, but for the log, which is the first point's."""
        return block.columns(grid, metrics, duration_ms, self.redact(log), finished_at_ms)
