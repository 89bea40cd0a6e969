"""The LLM comparison at a glance: for each option value a series varies, quality (the
experiment's objective), latency p50/p90, tokens/s and errors. Shown by `sweep report` for runs
whose points record `latency_ms` (the LLM experiments), and by the summary of `sweep run` and
`sweep summary`: both take their rows from `per_option`, so they cannot disagree.

The task items are the sample, not the calls: an option value's score is its mean over the items
(and seeds, repeats, the other options) with a 95% interval clustered by item
(`intervals.clustered_mean`), and each value is compared with the best value of its axis on the
same items: per item the mean difference over the points both values share except for this axis,
with a paired-bootstrap 95% interval over the items (`intervals.paired_difference`)."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sweep_cli.report.intervals import PairedDifference, clustered_mean, paired_difference
from sweep_cli.results.query import Goal, QueryResult, ResultsDB, metric_expr, nuisance_axes, param_expr
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SEED

SCORE_INTERVAL = "± 95% (by item)"
PAIRED = "vs best (same items)"
COLUMNS = ("value", "points", "errors", "score", "latency p50 ms", "latency p90 ms", "tokens/s", SCORE_INTERVAL, PAIRED)
METHOD = (
    "score: mean over task items, seeds and repeats, ± its 95% interval clustered by task item; "
    "vs best: the difference from the best value on the same items, with a 95% paired-bootstrap interval"
)


@dataclass
class OptionResult(QueryResult):
    """The rows of one option axis (COLUMNS), and one sentence comparing its best value with the next."""

    verdict: str | None = None


OptionRows = tuple[str, str, OptionResult]
"""(series, axis, one row per value of the axis: COLUMNS)."""


CALL_METRIC = "latency_ms"
"""The metric of a point that called a model: a run with it gets the per-option table."""


def records_calls(metrics: Sequence[str]) -> bool:
    """Whether a run's points record model calls (their latency): then the per-option table applies."""
    return CALL_METRIC in metrics


def per_option_sql(axis: str, score: str) -> str:
    """One row per value of `axis` in a series (bound as the query's parameter)."""
    v, s, lat, tps = param_expr(axis), metric_expr(score), metric_expr("latency_ms"), metric_expr("tokens_per_s")
    # The names enter as quoted literals (param_expr/metric_expr); the series is a bound parameter.
    select = (
        f"{v} AS v, count(*) AS points, count_if(status = 'error') AS errors, avg({s}) AS score, "
        f"quantile_cont({lat}, 0.5) AS p50, quantile_cont({lat}, 0.9) AS p90, avg({tps}) AS tokens_per_s"
    )
    return f"SELECT {select} FROM points WHERE series = ? GROUP BY v ORDER BY min(point_index)"  # noqa: S608


def scored_sql(score: str) -> str:
    """The ok rows of a series that have the score: their index, params and score."""
    s = metric_expr(score)
    return f"SELECT point_index, params, {s} FROM points WHERE series = ? AND status = 'ok' AND {s} IS NOT NULL"  # noqa: S608


def per_option(db: ResultsDB, manifest: RunManifest, score: str, goal: Goal = "max") -> list[OptionRows]:
    """(series, axis, rows) for every option axis of every series (not the nuisance axes)."""
    nuisance = nuisance_axes(manifest.request.experiment)
    repeats = manifest.plan.repeats
    found: list[OptionRows] = []
    for series in PointSpace(manifest.request, manifest.effective_config()).series:
        options = [a for a in series.axes if a not in nuisance]
        items = [a for a in series.axes if a in nuisance and a != SEED]
        scored: list[tuple[Any, ...]] | None = None
        for axis in options:
            scored = scored if scored is not None else db.query(scored_sql(score), [series.name]).rows
            rows = db.query(per_option_sql(axis, score), [series.name])
            found.append((series.name, axis, _inferred(rows, _Scores(scored, axis, items, repeats), axis, goal)))
    return found


class _Scores:
    """One axis's scores by value, each with its task item and the rest of its point (its pair key)."""

    def __init__(self, rows: Sequence[tuple[Any, ...]], axis: str, items: Sequence[str], repeats: int) -> None:
        self.by_value: dict[Any, list[tuple[Hashable, Hashable, float]]] = defaultdict(list)
        for index, point, value in rows:
            params = dict(point)
            item = tuple(params.get(a) for a in items) if items else index // repeats
            rest = tuple(sorted((k, v) for k, v in params.items() if k not in (axis, SEED)))
            self.by_value[params.get(axis)].append((item, rest, float(value)))

    def paired(self, value: Any, best: Any) -> PairedDifference | None:
        """value − best per item: the mean difference over the points both share but for the axis."""
        mine, theirs = self._means(value), self._means(best)
        per_item: dict[Hashable, list[float]] = defaultdict(list)
        for (item, rest), mean in mine.items():
            if (item, rest) in theirs:
                per_item[item].append(mean - theirs[item, rest])
        differences = [sum(d) / len(d) for d in per_item.values()]
        return paired_difference(differences) if differences else None

    def _means(self, value: Any) -> dict[tuple[Hashable, Hashable], float]:
        sums: dict[tuple[Hashable, Hashable], list[float]] = defaultdict(list)
        for item, rest, score in self.by_value.get(value, []):
            sums[item, rest].append(score)
        return {key: sum(v) / len(v) for key, v in sums.items()}


def _inferred(result: QueryResult, scores: _Scores, axis: str, goal: Goal) -> OptionResult:
    """The axis's rows with the score's clustered interval and the paired difference from the best."""
    estimates = {
        value: clustered_mean([s for _, _, s in rows], [item for item, _, _ in rows])
        for value, rows in scores.by_value.items()
    }
    ranked = sorted(estimates, key=lambda v: estimates[v].mean, reverse=goal == "max")
    best = ranked[0] if ranked else None
    rows: list[tuple[Any, ...]] = []
    for row in result.rows:
        estimate = estimates.get(row[0])
        half = f"±{estimate.half:.2g}" if estimate is not None and estimate.half is not None else ""
        versus = ""
        if estimate is not None and best is not None:
            versus = "best" if row[0] == best else _difference_text(scores.paired(row[0], best))
        # a value without a scored row (every call an error) has neither
        rows.append((*row, half, versus))
    verdict = (
        _verdict(axis, ranked[0], ranked[1], scores.paired(ranked[1], ranked[0]), goal) if len(ranked) > 1 else None
    )
    return OptionResult(list(COLUMNS), rows, verdict)


def _difference_text(d: PairedDifference | None) -> str:
    if d is None:
        return "no shared items"
    span = f" [{d.low:+.2f}, {d.high:+.2f}]" if d.low is not None and d.high is not None else ""
    return f"{d.mean:+.2f}{span} on {d.items} item{'s' if d.items != 1 else ''}"


def _verdict(axis: str, best: Any, other: Any, d: PairedDifference | None, goal: Goal) -> str | None:
    """ "temperature 0.0 beats 0.7 by 0.40 [0.25, 0.55] on the same 20 items" (best − other, or
    other − best when lower is better), and whether the interval leaves 0 out."""
    if d is None:
        return None
    sign = -1.0 if goal == "max" else 1.0  # d is other − best
    by = sign * d.mean
    text = f"{axis} {best} beats {other} by {by:.2f}"
    if d.low is not None and d.high is not None:
        low, high = sorted((sign * d.low, sign * d.high))
        text += f" [{low:.2f}, {high:.2f}] on the same {d.items} items"
        if low <= 0:
            text += " — the interval includes 0: not a clear difference"
    else:
        text += f" on {d.items} shared item (no interval)"
    return text


def llm_section(
    db: ResultsDB,
    manifest: RunManifest,
    score: str,
    table: Callable[[Sequence[str], Sequence[Sequence[Any]]], str],
    goal: Goal = "max",
) -> str:
    parts = [f"<h2>Per option value — score is <code>{html.escape(score)}</code></h2>"]
    parts.append(f"<p>{html.escape(METHOD)}.</p>")
    for series, axis, result in per_option(db, manifest, score, goal):
        parts.append(f"<h3>{html.escape(series)}: <code>{html.escape(axis)}</code></h3>")
        if result.verdict:
            parts.append(f"<p class='verdict'>{html.escape(result.verdict)}</p>")
        parts.append(table(COLUMNS, result.rows))
    return "\n".join(parts)
