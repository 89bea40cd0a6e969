"""What the report plots, read from a run's `points` view: per-cell means with their intervals
(`sweep_cli.report.intervals`), the range of each metric, and the values of repeated points.

Repeats are points whose parameters are identical apart from a replicate axis (`seed`): the
request's `repeats`, a swept `seed`, or the same parameters listed twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sweep_cli.report.intervals import Estimate, MetricRange, estimate
from sweep_cli.results.query import ResultsDB, metric_expr, param_expr
from sweep_contracts.request import SEED

REPLICATE_AXES = (SEED,)
"""Axes whose values are replicates of one measurement, not a factor: pooled, shown as spread."""
SPREAD_GROUPS = 30
"""At most this many repeated parameter combinations per series get a box in the spread plot."""

Key = tuple[str, ...]
Cells = dict[Key, dict[str, Estimate]]


@dataclass(frozen=True)
class Spread:
    """Repeated points of a series: per parameter combination (a label), each metric's values."""

    groups: list[tuple[str, dict[str, list[float]]]]
    total: int


def metric_ranges(dbs: Sequence[ResultsDB], metrics: Sequence[str]) -> dict[str, MetricRange]:
    """Each metric's observed range over the ok points of all `dbs`, and whether it is a 0/1
    outcome (it took the values 0 and 1 and no other)."""
    found: dict[str, MetricRange] = {}
    for metric in metrics:
        m = metric_expr(metric)
        lows, highs, only_0_1 = [], [], True
        for db in dbs:
            sql = f"SELECT min({m}), max({m}), count_if({m} NOT IN (0, 1)) FROM points WHERE status = 'ok'"
            low, high, others = db.query(sql).rows[0]
            if low is not None:
                lows.append(float(low))
                highs.append(float(high))
                only_0_1 = only_0_1 and others == 0
        if lows:
            # both 0 and 1 seen: a count that was 0 everywhere is no proportion
            binary = only_0_1 and min(lows) == 0 and max(highs) == 1
            found[metric] = MetricRange(min(lows), max(highs), binary)
    return found


def cells(
    db: ResultsDB,
    axes: Sequence[str],
    metrics: Sequence[str],
    bounds: dict[str, MetricRange],
    series: str | None = None,
) -> Cells:
    """Mean and interval of each metric per combination of the `axes` values, over the ok points
    (of one series, or of every series that sets all the axes); combinations in point order."""
    keys = [param_expr(a) for a in axes]
    aggregates = ", ".join(
        f"count({metric_expr(m)}), avg({metric_expr(m)}), stddev_samp({metric_expr(m)})" for m in metrics
    )
    where = ["status = 'ok'", *(f"{k} IS NOT NULL" for k in keys)]
    if series is not None:
        where.append("series = ?")
    group = ", ".join(keys)
    sql = (
        f"SELECT {group}, {aggregates} FROM points WHERE {' AND '.join(where)} "
        f"GROUP BY {group} ORDER BY min(point_index)"
    )
    found: Cells = {}
    width = len(axes)
    for row in db.query(sql, None if series is None else [series]).rows:
        per_metric = {}
        for i, metric in enumerate(metrics):
            n, mean, sd = row[width + 3 * i : width + 3 * i + 3]
            if n and metric in bounds:
                per_metric[metric] = estimate(int(n), float(mean), sd, bounds[metric])
        found[tuple(str(v) for v in row[:width])] = per_metric
    return found


def distinct_count(db: ResultsDB, axis: str, series: str) -> int:
    sql = f"SELECT count(DISTINCT {param_expr(axis)}) FROM points WHERE series = ?"
    return int(db.query(sql, [series]).rows[0][0])


def _label(params_json: str) -> str:
    params: dict[str, Any] = json.loads(params_json) if params_json else {}
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(one point, repeated)"


def spread(
    db: ResultsDB,
    metrics: Sequence[str],
    series: str,
    limit: int = SPREAD_GROUPS,
    axes: Sequence[str] | None = None,
) -> Spread:
    """The values of every metric at each repeated parameter combination of a series (the first
    `limit` combinations in point order), and how many repeated combinations there are. With the
    series' `axes` known to hold no replicate axis, the parameters are the key as they are."""
    # the parameters without the replicate axes: equal for the repeats of one combination. Grouped
    # as a map, made JSON only for the groups shown (JSON for every row took 4.8 s of a report at
    # 100,000 points under load, the map filter most of the rest: issue 23)
    plain = axes is not None and not set(axes) & set(REPLICATE_AXES)
    key = (
        "params"
        if plain
        else "map_from_entries(list_filter(map_entries(params), lambda e: NOT list_contains(?, e.key)))"
    )
    values = ", ".join(metric_expr(m) for m in metrics)
    keyed = f"SELECT point_index, {key} AS k, {values} FROM points WHERE status = 'ok' AND series = ?"
    repeated = (
        "SELECT k, min(point_index) AS first, count(*) OVER () AS total FROM keyed GROUP BY k HAVING count(*) > 1"
    )
    bound = [series] if plain else [list(REPLICATE_AXES), series]
    sql = (
        f"WITH keyed AS ({keyed}), chosen AS ({repeated} ORDER BY first LIMIT {int(limit)}) "
        "SELECT CAST(to_json(keyed.k) AS VARCHAR), keyed.* EXCLUDE (point_index, k), chosen.first, chosen.total "
        "FROM keyed JOIN chosen USING (k) ORDER BY chosen.first, keyed.point_index"
    )
    groups: dict[str, dict[str, list[float]]] = {}
    total = 0
    for row in db.query(sql, bound).rows:
        per_metric = groups.setdefault(row[0], {m: [] for m in metrics})
        for metric, value in zip(metrics, row[1:-2], strict=True):
            if value is not None:
                per_metric[metric].append(float(value))
        total = row[-1]
    return Spread([(_label(k), v) for k, v in groups.items()], int(total))


MAX_CATEGORIES = 25
"""A line plot over a non-numeric axis draws at most this many of its values (those with the most
ok points); more cannot be read as tick labels anyway (10,000 made a 14.7 MB page, issue 23)."""

Line = tuple[str, dict[str, dict[str, Estimate]]]


def top_values(lines: Sequence[Line], limit: int = MAX_CATEGORIES) -> tuple[list[Line], int]:
    """`lines` keeping only the `limit` x values with the most ok points over all lines (ties in
    the order given), unless every x value is a number; and how many x values there were."""
    counts: dict[str, int] = {}
    for _, points in lines:
        for x, estimates in points.items():
            counts[x] = counts.get(x, 0) + max((e.n for e in estimates.values()), default=0)
    try:
        [float(x) for x in counts]
    except ValueError:
        if len(counts) > limit:
            ranked = sorted(counts, key=lambda x: -counts[x])[:limit]  # sorted() is stable: ties keep their order
            kept = set(ranked)
            return [(label, {x: e for x, e in points.items() if x in kept}) for label, points in lines], len(counts)
    return list(lines), len(counts)


def others_note(shown: int, total: int) -> str:
    """What a caption says of the values `top_values` left out."""
    if total <= shown:
        return ""
    return f"; the {shown} values with the most ok points of {total:,}, {total - shown:,} others not drawn"
