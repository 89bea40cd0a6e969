"""`sweep report`: one self-contained HTML file (inline SVG, no scripts, no network).

Per series: each metric against each swept parameter (averaged over the other axes); for two or
more axes, interaction plots (one line per value of a second axis) and heatmaps per pair of
axes; repeats as spread (box and dots). Means carry 95% intervals that stay within the metric's
range (`sweep_cli.report.intervals`). Continuous parameters with many values (random search) are
scattered. Several runs: `sweep_cli.report.overlay`."""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweep_cli.render import cell_text, visible
from sweep_cli.report.data import (
    MAX_CATEGORIES,
    REPLICATE_AXES,
    cells,
    distinct_count,
    metric_ranges,
    others_note,
    spread,
    top_values,
)
from sweep_cli.report.intervals import Estimate, MetricRange
from sweep_cli.report.llm import llm_section, records_calls
from sweep_cli.report.plots import heatmap_figure, lines_figure, numeric, scatter_figure, spread_figure
from sweep_cli.report.svg import Text
from sweep_cli.results.metrics import require_recorded
from sweep_cli.results.query import ERROR_GROUPS_SQL, ResultsDB, Settings, metric_expr, objective, param_expr
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.status import RunStatus, run_status

SCATTER_ABOVE = 30
"""A numeric parameter with more distinct values than this is scattered, not aggregated."""
SCATTER_LIMIT = 20_000
MAX_PAIRS = 6
"""Interaction plots and heatmaps for at most this many pairs of axes per series (in axis order)."""
MAX_LINES = 10
"""An interaction plot draws at most this many lines (values of its second axis)."""
INTERVAL_NOTE = (
    "95% interval of the mean: Wilson for metrics of values 0 and 1 only, else Student's t "
    "clipped to the metric's observed range"
)

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f5f5f5}.num{text-align:right}pre{background:#f7f7f7;padding:.5rem;overflow:auto}
.state-succeeded{color:#187a2f}.state-failed{color:#b00}.state-partial{color:#c60}.state-running{color:#a80}
.state-completed_with_errors{color:#c60}.state-stalled{color:#b00}
td{overflow-wrap:anywhere}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}svg{max-width:100%;height:auto}
"""


def figure(kind: str, caption: str, svg: str) -> str:
    """A captioned plot; `kind` (axis, interaction, heatmap, spread, scatter, overlay) lets tests find it."""
    return f"<figure class='plot' data-kind='{kind}'><figcaption>{caption}</figcaption>{svg}</figure>"


@dataclass
class Figures:
    """Numbers the figures of one page, so the ids inside their SVG are unique and stable."""

    count: int = 0

    def next_id(self) -> str:
        self.count += 1
        return f"f{self.count}"


@dataclass
class _Context:
    manifest: RunManifest
    metrics: list[str]
    bounds: dict[str, MetricRange]
    ids: Figures = field(default_factory=Figures)
    names: Text = field(default_factory=Text)


def _axis_figure(db: ResultsDB, ctx: _Context, series: str, axis: str) -> str:
    v = param_expr(axis)
    values = numeric(
        [r[0] for r in db.query(f"SELECT DISTINCT {v} FROM points WHERE series = ? LIMIT 100", [series]).rows]
    )
    code = f"<code>{html.escape(axis)}</code>"
    if values is not None and distinct_count(db, axis, series) > SCATTER_ABOVE:
        selects = ", ".join(metric_expr(m) for m in ctx.metrics)
        sql = f"SELECT {v}, {selects} FROM points WHERE series = ? AND status = 'ok' LIMIT {SCATTER_LIMIT}"
        rows = db.query(sql, [series]).rows
        if rows:
            return figure(
                "scatter",
                f"metrics against {code} (each point)",
                scatter_figure(ctx.ids.next_id(), axis, ctx.metrics, rows, ctx.names),
            )
    else:
        found = cells(db, [axis], ctx.metrics, ctx.bounds, series)
        if found:
            lines, total = top_values([("", {k[0]: e for k, e in found.items()})])
            note = others_note(MAX_CATEGORIES, total)
            caption = f"metrics against {code} (mean over repeats and the other axes; {INTERVAL_NOTE}{note})"
            svg = lines_figure(ctx.ids.next_id(), axis, ctx.metrics, lines, names=ctx.names)
            return figure("axis", caption, svg)
    return f"<p>No successful points vary {code}.</p>"


def _pair_figures(db: ResultsDB, ctx: _Context, series: str, first: str, second: str) -> list[str]:
    found = cells(db, [first, second], ctx.metrics, ctx.bounds, series)
    if not found:
        return []
    counts = {a: len({k[i] for k in found}) for i, a in enumerate((first, second))}
    # x: the axis with more values (a number line reads better); lines: the other one
    x, hue = (first, second) if counts[first] >= counts[second] else (second, first)
    parts = []
    if counts[hue] <= MAX_LINES:
        lines: dict[str, dict[str, dict[str, Estimate]]] = {}
        for key, estimates in found.items():
            by_axis = dict(zip((first, second), key, strict=True))
            lines.setdefault(f"{hue}={by_axis[hue]}", {})[by_axis[x]] = estimates
        caption = (
            f"interaction: metrics against <code>{html.escape(x)}</code>, one line per value of "
            f"<code>{html.escape(hue)}</code> (mean over repeats and the other axes; {INTERVAL_NOTE})"
        )
        parts.append(
            figure(
                "interaction",
                caption,
                lines_figure(ctx.ids.next_id(), x, ctx.metrics, list(lines.items()), hue, ctx.names),
            )
        )
    else:
        parts.append(
            f"<p>No interaction plot of <code>{html.escape(first)}</code> × <code>{html.escape(second)}</code>: "
            f"both have more than {MAX_LINES} values; see the heatmap.</p>"
        )
    pairs = {(k[0], k[1]): e for k, e in found.items()}
    caption = (
        f"heatmap: mean of each metric over <code>{html.escape(first)}</code> × <code>{html.escape(second)}</code>"
    )
    parts.append(
        figure("heatmap", caption, heatmap_figure(ctx.ids.next_id(), first, second, ctx.metrics, pairs, ctx.names))
    )
    return parts


def _series_section(db: ResultsDB, ctx: _Context, series: str) -> str:
    parts = [f"<h2>Series {html.escape(series)}</h2>"]
    (found,) = (s for s in PointSpace(ctx.manifest.request, ctx.manifest.effective_config()).series if s.name == series)
    axes = list(found.axes)
    parts.extend(_axis_figure(db, ctx, series, axis) for axis in axes)
    factors = [a for a in axes if a not in REPLICATE_AXES and distinct_count(db, a, series) <= SCATTER_ABOVE]
    pairs = list(itertools.combinations(factors, 2))
    for first, second in pairs[:MAX_PAIRS]:
        parts.extend(_pair_figures(db, ctx, series, first, second))
    if len(pairs) > MAX_PAIRS:
        parts.append(f"<p>{len(pairs) - MAX_PAIRS} more pairs of axes are not drawn (at most {MAX_PAIRS}).</p>")
    repeated = spread(db, ctx.metrics, series, axes=axes)
    if repeated.groups:
        shown = len(repeated.groups)
        of = f" (the first {shown} of {repeated.total})" if repeated.total > shown else ""
        caption = (
            f"repeats: each metric's values at each repeated parameter combination{of}; "
            "box = quartiles, dot = one repeat"
        )
        parts.append(
            figure("spread", caption, spread_figure(ctx.ids.next_id(), ctx.metrics, repeated.groups, ctx.names))
        )
    return "\n".join(parts)


CELL_CHARS = 300
"""A table cell longer than this shows its start, the rest behind a click (`<details>`, no script)."""


def _cell(value: Any) -> str:
    text = visible(cell_text(value), lines=True)
    if len(text) <= CELL_CHARS:
        return f"<td>{html.escape(text)}</td>"
    start = html.escape(text[: CELL_CHARS // 2])
    return f"<td><details><summary>{start}… ({len(text):,} characters)</summary>{html.escape(text)}</details></td>"


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _header(manifest: RunManifest, status: RunStatus) -> str:
    request = manifest.request
    facts = [
        ("experiment", request.experiment),
        ("state", status.label),
        ("created", manifest.created_at.isoformat(timespec="seconds")),
        ("points", f"{status.points_ok:,} ok, {status.points_error:,} error, {status.points_not_run:,} not run"),
        (
            "shards",
            f"{status.shards_success:,} succeeded, {status.shards_failure:,} failed, {status.shards_pending:,} pending",
        ),
        ("code", ", ".join(f"{k} {v}" for k, v in manifest.code_version.items())),
    ]
    rows = "".join(
        f"<tr><th>{k}</th><td class='{'state-' + status.state if k == 'state' else ''}'>{html.escape(v)}</td></tr>"
        for k, v in facts
    )
    description = f"<p>{html.escape(visible(request.description, lines=True))}</p>" if request.description else ""
    return (
        f"<h1>Run {html.escape(manifest.run_id)}</h1>{description}<table>{rows}</table>"
        f"<h2>Config</h2><pre>{html.escape(json.dumps(manifest.effective_config(), indent=2))}</pre>"
    )


def chosen_metrics(run_id: str, experiment: str, recorded: list[str], asked: Sequence[str]) -> list[str]:
    """The metrics to plot: those asked for (each one recorded), else the experiment's declared
    metrics that the run recorded, else every recorded one."""
    require_recorded(run_id, asked, recorded)
    registry = Registry.default()
    found = registry.find(experiment)
    declared = [m for m in (found.metrics if found else ()) if m in recorded]
    return list(asked) or declared or recorded


def shortened_section(names: Text) -> str:
    """The values the figures show shortened (`prefix…#k`), each in full, once per page."""
    if not names.shortened:
        return ""
    rows = [(shown, full) for full, shown in names.shortened.items()]
    return "<h2>Values shortened in the figures</h2>" + table(["shown as", "value"], rows)


def save_page(path: Path, title: str, sections: Sequence[str]) -> Path:
    document = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)
    return path


def write_report(out: Path, run_id: str, path: Path, metrics: list[str]) -> Path:
    store = LocalStore(out)
    manifest = load_manifest(store, run_id)
    status = run_status(store, run_id, manifest)
    # the report reads the whole run: a finished run's views are copied first, and it reads the copy
    db = ResultsDB(out, run_id, copy=True)
    try:
        db.cache_points()
        recorded = db.metric_names()
        chosen = chosen_metrics(run_id, manifest.request.experiment, recorded, metrics)
        sections = [_header(manifest, status)]
        found = objective(manifest.request.experiment, None, lambda: recorded)
        if found is not None and found[0] in recorded:
            name, goal = found
            settings = Settings.of(manifest)
            summary = settings.summary(name, goal, db.query)
            sections.append(f"<h2>Summary — {html.escape(name)} ({goal})</h2>")
            sections.append(f"<p>best_params: the {html.escape(settings.label)}.</p>")
            sections.append(table(summary.columns, summary.rows))
            if records_calls(recorded):
                sections.append(llm_section(db, manifest, name, table, goal))
        if status.points_error:
            errors = db.query(ERROR_GROUPS_SQL)
            sections.append(f"<h2>Point errors ({status.points_error:,})</h2>")
            sections.append(table(["error_type", "message", "points", "example point"], errors.rows))
            sections.append(f"<p>Tracebacks: <code>sweep logs {html.escape(run_id)} --point N</code></p>")
        if chosen:
            ctx = _Context(manifest, chosen, metric_ranges([db], chosen))
            sections.extend(_series_section(db, ctx, info.name) for info in manifest.plan.series)
            sections.append(shortened_section(ctx.names))
        else:
            sections.append("<p>No metrics were recorded.</p>")
        stage = [
            (name, record["value"], record.get("source", ""), record.get("note", ""))
            for name, record in manifest.settings.items()
        ]
        sections.append("<h2>Settings</h2>" + table(["setting", "value", "source", "note"], stage))
    finally:
        db.close()
    return save_page(path, f"sweep report {run_id}", sections)
