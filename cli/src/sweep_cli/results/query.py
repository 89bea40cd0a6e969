"""Querying results with SQL: DuckDB over the storage layout locally, as views `points` and
`outcomes` scoped to one run. The SQL written here runs unchanged on DuckDB and on Athena (Trino):
map values are read as `try(m['key'])`, which is NULL for a missing key on both engines (a bare
`m['key']` fails on Athena), and the aggregates are ones both engines have."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sweep_cli.errors import QueryError
from sweep_cli.results import cache
from sweep_cli.results.axes import axis_select
from sweep_contracts import layout
from sweep_contracts.experiments import NUISANCE_AXES, Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace
from sweep_contracts.schema import OUTCOMES_TABLE, POINTS_TABLE, Table
from sweep_contracts.storage import LocalStore


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet(path: Path) -> str:
    """`read_parquet` of one file, its path quoted as a literal and against DuckDB's globbing."""
    return f"read_parquet({_literal(glob.escape(str(path)))}, hive_partitioning = false)"


def metric_expr(metric: str) -> str:
    """A metric's value, NULL where a point has none."""
    return f"try(metrics[{_literal(metric)}])"


def param_expr(param: str) -> str:
    return f"try(params[{_literal(param)}])"


Goal = Literal["max", "min"]


def objective(
    experiment: str, metric: str | None, recorded: Callable[[], Sequence[str]] = tuple
) -> tuple[str, Goal] | None:
    """The metric to summarise and its direction: `--metric`, else the experiment's declared
    objective (when it is installed here), else the first metric the run recorded."""
    registry = Registry.default()
    found = registry.find(experiment)
    declared = found.objective if found else None
    if metric:
        return metric, declared.goal if declared and declared.metric == metric else "max"
    if declared:
        return declared.metric, declared.goal
    names = recorded()
    return (names[0], "max") if names else None


def nuisance_axes(experiment: str) -> tuple[str, ...]:
    """The axes "best" averages over: `task_index` and `seed` always, and those the experiment
    declares (`Experiment.nuisance_axes`) when it is installed here."""
    registry = Registry.default()
    declared = registry.get(experiment).nuisance_axes if experiment in registry else ()
    return tuple(dict.fromkeys([*NUISANCE_AXES, *declared]))


@dataclass(frozen=True)
class Settings:
    """What "best settings" means for one run: the option axes it chooses among, and what it
    averages over (the run's nuisance axes, and `repeats` when a point is run more than once)."""

    options: tuple[str, ...]
    averaged: tuple[str, ...]

    @classmethod
    def of(cls, manifest: RunManifest) -> Settings:
        nuisance = nuisance_axes(manifest.request.experiment)
        space = PointSpace(manifest.request, manifest.effective_config())
        axes = dict.fromkeys(axis for series in space.series for axis in series.axes)
        averaged = [a for a in axes if a in nuisance] + (["repeats"] if manifest.plan.repeats > 1 else [])
        return cls(tuple(a for a in axes if a not in nuisance), tuple(averaged))

    @property
    def label(self) -> str:
        over = f" (mean over {', '.join(self.averaged)})" if self.averaged else ""
        return f"best settings{over}"

    def chosen(self, params: Any) -> Any:
        """A best point's params as settings: without the axes averaged over."""
        if not isinstance(params, Mapping):
            return params
        return {k: v for k, v in params.items() if k in self.options}

    def summary(self, metric: str, goal: Goal, run: Callable[[str], QueryResult]) -> QueryResult:
        """The summary (`summary_sql` over these settings), run by `run`, its best params as settings."""
        result = run(summary_sql(metric, goal, 1, self.options))
        at = result.columns.index("best_params")
        rows = [(*row[:at], self.chosen(row[at]), *row[at + 1 :]) for row in result.rows]
        return QueryResult(result.columns, rows)


def summary_sql(metric: str, goal: Goal, repeats: int, options: Sequence[str] | None = None) -> str:
    """Per series: points, errors, the metric's mean/min/max, and the best point — the point
    (averaged over its repeats) with the best mean of the metric; of tied points, the one with the
    lowest index, so the answer is the same on every run of the query (DuckDB and Athena alike).
    NaN and infinite metrics cannot occur: the worker records such a point as an error.

    With `options` (the run's option axes, `Settings.options`), the best are settings, not points:
    the points that share those axes' values are one group, averaged over everything else (task
    items, seeds, repeats), and `best_params` is the first ok point of the best group — whose
    nuisance values the caller leaves out (`Settings`), since the map functions differ by engine."""
    r = int(repeats)
    best = "max" if goal == "max" else "min"
    if options is not None:
        return _settings_sql(metric, best, options)
    # Each pass reads what it needs, and only the best point's rows carry `params`: one aggregate
    # for the totals; the points' means (without a grouping when a point has one repeat: at 2,000,000
    # points, a 2,000,000-group hash aggregate was most of the query); the best mean per series and
    # the lowest point that reaches it; then that point's params, joined by its index range. Together
    # 0.3 s against 0.7-1.0 s for the single grouping pass it replaces (issue 13, bench/RESULTS.md).
    per_point = (
        "SELECT series, point_index AS base, m FROM scored WHERE status = 'ok' AND m IS NOT NULL"
        if r == 1
        else f"SELECT series, CAST(floor(point_index / {r}) AS BIGINT) AS base, avg(m) AS m\n"
        "    FROM scored WHERE status = 'ok' AND m IS NOT NULL\n"
        f"    GROUP BY series, CAST(floor(point_index / {r}) AS BIGINT)"
    )
    return f"""
WITH scored AS (
    SELECT series, point_index, status, {metric_expr(metric)} AS m FROM points
), totals AS (
    SELECT series, count(*) AS points, count_if(status = 'error') AS errors,
           avg(m) AS mean, min(m) AS min, max(m) AS max, min(point_index) AS first_index
    FROM scored GROUP BY series
), per_point AS (
    {per_point}
), peak AS (
    SELECT series, {best}(m) AS top FROM per_point GROUP BY series
), best AS (
    SELECT p.series, min(p.base) AS base, arbitrary(p.m) AS best_value
    FROM per_point p JOIN peak k ON p.series = k.series AND p.m = k.top
    GROUP BY p.series
), chosen AS (
    SELECT b.series, arbitrary(q.params) AS params
    FROM best b JOIN points q
      ON q.series = b.series AND q.point_index >= b.base * {r} AND q.point_index < (b.base + 1) * {r}
    WHERE q.status = 'ok'
    GROUP BY b.series
)
SELECT t.series, t.points, t.errors, t.mean, t.min, t.max, c.params AS best_params, b.best_value
FROM totals t LEFT JOIN best b ON t.series = b.series LEFT JOIN chosen c ON t.series = c.series
ORDER BY t.first_index
""".strip()


def _settings_sql(metric: str, best: str, options: Sequence[str]) -> str:
    """`summary_sql` over groups of points with the same option values (`concat_ws` of them, which
    both engines have; a value that is missing in a series is empty)."""
    parts = [f"coalesce({param_expr(a)}, '')" for a in options]
    key = f"concat_ws(chr(31), {', '.join(parts)})" if parts else "''"
    return f"""
WITH scored AS (
    SELECT series, point_index, status, {key} AS k, {metric_expr(metric)} AS m FROM points
), totals AS (
    SELECT series, count(*) AS points, count_if(status = 'error') AS errors,
           avg(m) AS mean, min(m) AS min, max(m) AS max, min(point_index) AS first_index
    FROM scored GROUP BY series
), per_setting AS (
    SELECT series, k, min(point_index) AS base, avg(m) AS m
    FROM scored WHERE status = 'ok' AND m IS NOT NULL GROUP BY series, k
), peak AS (
    SELECT series, {best}(m) AS top FROM per_setting GROUP BY series
), best AS (
    SELECT p.series, min(p.base) AS base, arbitrary(p.m) AS best_value
    FROM per_setting p JOIN peak k ON p.series = k.series AND p.m = k.top
    GROUP BY p.series
), chosen AS (
    SELECT b.series, arbitrary(q.params) AS params
    FROM best b JOIN points q ON q.series = b.series AND q.point_index = b.base
    GROUP BY b.series
)
SELECT t.series, t.points, t.errors, t.mean, t.min, t.max, c.params AS best_params, b.best_value
FROM totals t LEFT JOIN best b ON t.series = b.series LEFT JOIN chosen c ON t.series = c.series
ORDER BY t.first_index
""".strip()


def resolved_views(raw_points: str, raw_outcomes: str, axes: str = "") -> dict[str, str]:
    """The `outcomes` and `points` users query, over the objects as stored (the same SQL on DuckDB
    and Athena): one outcome per shard, a success winning over a stale failure, and only the rows
    that outcome vouches for — its execution's — so an orphan file from a losing duplicate of a
    shard is never counted. Rows written before executions existed have none, like their outcome.
    `axes` adds the run's typed axis columns to `points` (`sweep_cli.results.axes.axis_select`)."""
    outcome_columns = ", ".join(["run_id", *OUTCOMES_TABLE.column_names])
    point_columns = ", ".join(f"p.{c}" for c in ["run_id", *POINTS_TABLE.column_names])
    outcomes = (
        f"SELECT {outcome_columns} FROM (SELECT *, row_number() OVER (PARTITION BY run_id, shard_id "
        f"ORDER BY CASE WHEN status = 'success' THEN 0 ELSE 1 END) AS sweep_rank FROM {raw_outcomes}) ranked "
        "WHERE sweep_rank = 1"
    )
    points = (
        f"SELECT {point_columns}{axes} FROM {raw_points} p WHERE EXISTS (SELECT 1 FROM outcomes o "
        "WHERE o.run_id = p.run_id AND o.shard_id = p.shard_id "
        # IS NOT DISTINCT FROM, not `= OR both NULL`: the same test, but one DuckDB can hash-join on
        # (the OR made it read every point of a 2,000,000-point run several times slower)
        "AND o.execution IS NOT DISTINCT FROM p.execution)"
    )
    return {"outcomes": outcomes, "points": points}


def _empty_view(table: Table) -> str:
    columns = [f"CAST(NULL AS {c.duckdb_type}) AS {c.name}" for c in table.columns]
    columns += [f"CAST(NULL AS VARCHAR) AS {k}" for k in table.partition_keys if k not in table.column_names]
    return f"SELECT {', '.join(columns)} WHERE false"


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


ERROR_GROUPS_SQL = """
SELECT error_type, error_message, count(*) AS points, min(point_index) AS example
FROM points WHERE status = 'error'
GROUP BY error_type, error_message ORDER BY points DESC, example LIMIT 10
"""
"""Point errors grouped by type and message, most frequent first, each with its first point."""


class ResultsDB:
    """A DuckDB connection with views `points` and `outcomes` over one run of a results directory."""

    def __init__(self, root: Path, run_id: str, threads: int | None = None, *, copy: bool = False) -> None:
        """`copy`: a finished run without a copy of its views gets one first (`sweep_cli.results.cache`),
        and the views read it; for a caller about to read the whole run anyway (the report)."""
        import duckdb  # here, not at the top: `sweep --help` and `sweep run` never query

        self.con = duckdb.connect(config={"threads": threads} if threads else {})
        self.root = Path(root)
        self.run_id = run_id
        data = LocalStore(self.root).get(layout.manifest_key(run_id))
        manifest = RunManifest.from_json(data) if data is not None else None
        axes = axis_select(manifest.request, "duckdb") if manifest is not None else ""
        # a finished run's views may have been copied into one file each (`sweep_cli.results.cache`):
        # used only if built from exactly the files the store holds now
        self.sources = cache.sources(self.root, run_id)
        shards = manifest.plan.shard_count if manifest is not None else 0
        self.finished = shards > 0 and all(k in self.sources.shards for k in range(shards))
        copies = self.sources.copies(self.root, run_id) if self.finished else None
        if copies is None and copy and self.finished:
            copies = self._copy_views()
        self.copied = copies is not None
        if copies is not None:
            self.con.execute(f"CREATE OR REPLACE VIEW outcomes AS SELECT * FROM {_parquet(copies['outcomes'])}")
            self.con.execute(f"CREATE OR REPLACE VIEW points AS SELECT p.*{axes} FROM {_parquet(copies['points'])} p")
            return
        for table in (POINTS_TABLE, OUTCOMES_TABLE):
            self.con.execute(f"CREATE VIEW stored_{table.name} AS {self._stored(table)}")
        views = resolved_views("stored_points", "stored_outcomes", axes)
        for name in ("outcomes", "points"):
            self.con.execute(f"CREATE VIEW {name} AS {views[name]}")

    def _stored(self, table: Table) -> str:
        """The SELECT of a table's files of the run as stored (every column, and `run_id`)."""
        pattern = (
            layout.points_prefix(self.run_id) + "*.parquet"
            if table is POINTS_TABLE
            else layout.outcomes_prefix(self.run_id) + "*/*.parquet"
        )
        if not any(self.root.glob(pattern)):
            return _empty_view(table)
        # the results directory is a path, not a pattern: `res[12]` or `res*` would match a
        # sibling's files. DuckDB's globs take `[*]`, `[?]`, `[[]` as the characters
        # themselves, as Python's do, so `glob.escape` quotes it for both. And no hive
        # partitioning: DuckDB takes every `key=value` directory of the whole path for a
        # partition, so `--out status=x` made every row's status `x`; the view is one run's,
        # so its run_id is a literal
        source = (
            f"read_parquet({_literal(glob.escape(str(self.root)) + '/' + pattern)}, "
            "hive_partitioning = false, union_by_name = true)"
        )
        return f"SELECT *, CAST({_literal(self.run_id)} AS VARCHAR) AS run_id FROM {source}"

    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        import duckdb

        try:
            cursor = self.con.execute(sql, params) if params else self.con.execute(sql)
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise QueryError(
                f"the query failed: {str(exc).splitlines()[0]}",
                field="sql",
                value=sql if len(sql) < 500 else sql[:500] + "…",
                hint="the views are `points` and `outcomes` (see their columns with "
                "`--sql \"DESCRIBE points\"`); map values read as params['name'] and metrics['name'].",
            ) from None
        columns = [d[0] for d in cursor.description or []]
        return QueryResult(columns, rows)

    def cache_points(self) -> None:
        """Read the run's points into memory once, for a caller that asks many questions of them:
        the view reads every Parquet file at each query (the report asks ten or more: 0.6 s each
        at 10,000 points in 100 shards, issue 23); from a copy of the views it reads one file."""
        if not self.copied:  # the outcomes first: `points` reads them (by name) for the rows they vouch for
            self.con.execute("CREATE TABLE cached_outcomes AS SELECT * FROM outcomes")
            self.con.execute("CREATE OR REPLACE VIEW outcomes AS SELECT * FROM cached_outcomes")
        self.con.execute("CREATE TABLE cached_points AS SELECT * FROM points")
        self.con.execute("CREATE OR REPLACE VIEW points AS SELECT * FROM cached_points")

    def _copy_views(self) -> dict[cache.Table, Path] | None:
        """Write the copies of a finished run's views straight from its files, then drop older copies;
        None if the directory cannot take them (read-only, full): the reader then reads the store.

        Straight from the files, before any view exists: DuckDB binds a view over 1,000 files
        (`union_by_name` reads every file's schema) when it is created and again at each query that
        reads it, so views first, then a copy from them, then the report's reads cost more than the
        report without a copy (issue 23: 20.5 s against 16.5 s at 100,000 points); this way the
        outcomes are read once, the points once, and the report reads the one copy back."""
        import duckdb

        raw = resolved_views(f"({self._stored(POINTS_TABLE)})", f"({self._stored(OUTCOMES_TABLE)})")
        columns = ", ".join(["run_id", *POINTS_TABLE.column_names])
        written: dict[cache.Table, Path] = {}
        temp = self.root
        try:
            # `points` selects the rows the standing outcomes vouch for, naming the view `outcomes`
            self.con.execute(f"CREATE TEMP TABLE copied_outcomes AS {raw['outcomes']}")
            self.con.execute("CREATE VIEW outcomes AS SELECT * FROM copied_outcomes")
            selects = {
                "outcomes": "SELECT * FROM copied_outcomes",
                "points": f"SELECT {columns} FROM ({raw['points']})",
            }
            for table in cache.TABLES:
                path = self.sources.path(self.root, self.run_id, table)
                path.parent.mkdir(parents=True, exist_ok=True)
                temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                self.con.execute(f"COPY ({selects[table]}) TO {_literal(str(temp))} (FORMAT parquet)")
                os.replace(temp, path)
                written[table] = path
            cache.remove_others(self.root, self.run_id, self.sources)
        except (OSError, duckdb.IOException):
            if temp.name.endswith(".tmp"):
                temp.unlink(missing_ok=True)
            return None
        finally:
            self.con.execute("DROP VIEW IF EXISTS outcomes")
            self.con.execute("DROP TABLE IF EXISTS copied_outcomes")
        return written

    def metric_names(self) -> list[str]:
        rows = self.query("SELECT DISTINCT unnest(map_keys(metrics)) AS k FROM points ORDER BY k").rows
        return [r[0] for r in rows]

    def records(self, metric: str) -> bool:
        """Whether any point recorded `metric`: stops at the first (0.1 s where none did, at 2,000,000
        points, against 0.25 s for listing every metric name)."""
        found = f"SELECT 1 FROM points WHERE list_contains(map_keys(metrics), {_literal(metric)}) LIMIT 1"
        sql = f"SELECT count(*) FROM ({found})"
        return bool(self.query(sql).rows[0][0])

    def close(self) -> None:
        self.con.close()
