"""Row schemas of the `points` and `outcomes` tables: the Parquet writers, the Glue tables and the
DuckDB views all derive their columns from these two lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OUTPUT_LIMIT = 16_384
"""Characters of a response kept in `output`; a longer one is cut there and the row's metric
`output_truncated` is 1 (its full length is the metric `output_chars`)."""

TRACEBACK_LIMIT = 8_192
"""Characters of an error row's traceback kept in `traceback`: its last ones (the raising frame
and the exception), behind a line that says how much was cut."""

LOG_LIMIT = 4_096
"""Characters of a point's captured stdout, stderr and log lines kept in `log`: its last ones."""

TEXT_ERRORS = "backslashreplace"
"""How every text column is encoded to UTF-8 when stored (`stored_text`, and the Arrow and flat
Parquet writers that use it). Python text can hold a lone surrogate that UTF-8 cannot carry: a
model reply cut mid-pair, an error body, `os.fsdecode` of a file name (b"\\xff" is "\\udcff").
Encoding it strictly failed the whole shard (issue 20, item 7); it is stored visibly instead, as
its escape (the six characters `\\udcff`), and every other character as itself."""


def stored_text(text: str) -> bytes:
    """`text` as a text column stores it: UTF-8, a lone surrogate as its visible escape."""
    return text.encode("utf-8", TEXT_ERRORS)


ColumnType = Literal["int32", "int64", "double", "string", "timestamp", "map<string,string>", "map<string,double>"]

_GLUE_TYPES: dict[ColumnType, str] = {
    "int32": "int",
    "int64": "bigint",
    "double": "double",
    "string": "string",
    "timestamp": "timestamp",
    "map<string,string>": "map<string,string>",
    "map<string,double>": "map<string,double>",
}
_DUCKDB_TYPES: dict[ColumnType, str] = {
    "int32": "INTEGER",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
    "map<string,double>": "MAP(VARCHAR, DOUBLE)",
}


@dataclass(frozen=True)
class Column:
    """One column: its name, logical type, whether it may be null, and what it holds."""

    name: str
    type: ColumnType
    nullable: bool
    comment: str

    @property
    def glue_type(self) -> str:
        return _GLUE_TYPES[self.type]

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """A table: data columns in file order, and the partition keys that the object keys carry."""

    name: str
    columns: tuple[Column, ...]
    partition_keys: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def glue_columns(self) -> list[Column]:
        """Data columns as Glue declares them: a partition key cannot also be a data column."""
        return [c for c in self.columns if c.name not in self.partition_keys]


POINTS_TABLE = Table(
    name="points",
    columns=(
        Column("shard_id", "int32", False, "shard that evaluated the point"),
        Column("point_index", "int64", False, "index of the point in the sweep, 0..N-1"),
        Column("series", "string", False, "grid (series) the point belongs to"),
        Column("repeat", "int32", False, "repeat number, 0..repeats-1"),
        Column("params", "map<string,string>", False, "swept parameter values (strings as-is, else JSON)"),
        Column("metrics", "map<string,double>", False, "metrics the experiment returned"),
        Column("status", "string", False, "ok or error"),
        Column("error_type", "string", True, "exception class when status is error"),
        Column("error_message", "string", True, "exception message when status is error"),
        Column("duration_ms", "double", False, "wall time of the point"),
        Column("config_json", "string", False, "effective config, canonical JSON"),
        Column("finished_at", "timestamp", False, "when the point finished (UTC)"),
        Column("output", "string", True, "response text of LLM experiments, cut at OUTPUT_LIMIT characters"),
        Column("call_json", "string", True, "LLM experiments: options as sent and response facts, canonical JSON"),
        Column(
            "traceback", "string", True, "error rows: the exception's traceback, its last TRACEBACK_LIMIT characters"
        ),
        Column(
            "log", "string", True, "what the point printed (stdout, stderr, log records), its last LOG_LIMIT characters"
        ),
        Column(
            "execution",
            "string",
            True,
            "tag of the worker execution that wrote the row, `<id>-ok<n>-error<m>` (an outcome vouches for one)",
        ),
    ),
    partition_keys=("run_id",),
)

OUTCOMES_TABLE = Table(
    name="outcomes",
    columns=(
        Column("shard_id", "int32", False, "shard number"),
        Column("attempt", "int32", False, "dispatch attempt, 1 for the first"),
        Column("status", "string", False, "success or failure (also the partition)"),
        Column("points_total", "int32", False, "points in the shard"),
        Column("points_ok", "int32", False, "points that returned metrics"),
        Column("points_failed", "int32", False, "points that raised"),
        Column("error_code", "string", True, "why the shard failed"),
        Column("error_message", "string", True, "what happened, in words"),
        Column("started_at", "timestamp", False, "when the attempt started (UTC)"),
        Column("finished_at", "timestamp", False, "when the attempt ended (UTC)"),
        Column("duration_ms", "double", False, "wall time of the attempt"),
        Column("request_id", "string", True, "Lambda request id (or local id) of the attempt"),
        Column("execution", "string", True, "tag of the execution whose points file this outcome vouches for"),
    ),
    partition_keys=("run_id", "status"),
)

OUTCOMES_TALLIED = Table(
    name="outcomes",
    columns=(
        *OUTCOMES_TABLE.columns,
        Column("series_json", "string", True, "per series: points ok and failed, sum and count of each metric"),
    ),
    partition_keys=OUTCOMES_TABLE.partition_keys,
)
"""An outcome file that carries its points' per-series tally (`Outcome.series`): the outcomes
table's columns and one more, which neither the catalog nor the query views read (files without
it, written before it or with no tally, are byte for byte what they were)."""


def clip_output(text: str) -> tuple[str, bool]:
    """`text` cut at OUTPUT_LIMIT characters, and whether it was cut."""
    return (text[:OUTPUT_LIMIT], True) if len(text) > OUTPUT_LIMIT else (text, False)


def _clip_tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"[{len(text) - limit:,} earlier characters cut]\n" + text[-limit:]


def clip_traceback(text: str) -> str:
    """The last TRACEBACK_LIMIT characters of a traceback, behind a line saying what was cut."""
    return _clip_tail(text, TRACEBACK_LIMIT)


def clip_log(text: str) -> str:
    """The last LOG_LIMIT characters of a point's captured output, behind a line saying what was cut."""
    return _clip_tail(text, LOG_LIMIT)


RESERVED_NAMES: tuple[str, ...] = ("run_id", *POINTS_TABLE.column_names, "config")
"""Names no parameter or metric may take, compared ignoring case (DuckDB and Athena identifiers
ignore case, so a parameter `Status` would read the column `status`): the columns of `points`, its
partition key, and `config`, the column `sweep.load` adds."""

_RESERVED = {name.casefold(): name for name in RESERVED_NAMES}


def reserved_column(name: str) -> str | None:
    """The column of sweep's own that `name` collides with, ignoring case, or None."""
    return _RESERVED.get(name.casefold())
