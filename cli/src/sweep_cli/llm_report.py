"""The LLM comparison at a glance: for each option value a series varies, quality (the
experiment's objective), latency p50/p90, tokens/s and errors. Shown by `sweep report` for runs
whose points record `latency_ms` (the LLM experiments), and by the summary of `sweep run` and
`sweep summary`: both take their rows from `per_option`, so they cannot disagree."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from sweep_cli.query import QueryResult, ResultsDB, metric_expr, param_expr
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace

COLUMNS = ("value", "points", "errors", "score", "latency p50 ms", "latency p90 ms", "tokens/s")
SKIPPED_AXES = {"task_index"}  # items of a task set are replicates, not an option


OptionRows = tuple[str, str, QueryResult]
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


def per_option(db: ResultsDB, manifest: RunManifest, score: str) -> list[OptionRows]:
    """(series, axis, rows) for every option axis of every series."""
    found: list[OptionRows] = []
    for series in PointSpace(manifest.request, manifest.effective_config()).series:
        for axis in series.axes:
            if axis not in SKIPPED_AXES:
                found.append((series.name, axis, db.query(per_option_sql(axis, score), [series.name])))
    return found


def llm_section(
    db: ResultsDB, manifest: RunManifest, score: str, table: Callable[[Sequence[str], Sequence[Sequence[Any]]], str]
) -> str:
    parts = [f"<h2>Per option value — score is <code>{html.escape(score)}</code></h2>"]
    for series, axis, result in per_option(db, manifest, score):
        parts.append(f"<h3>{html.escape(series)}: <code>{html.escape(axis)}</code></h3>")
        parts.append(table(COLUMNS, result.rows))
    return "\n".join(parts)
