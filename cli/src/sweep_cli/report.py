"""`sweep report`: one self-contained HTML file (inline SVG, no scripts, no network) with each
metric plotted against each swept parameter, per series; mean ± standard deviation over repeats
and the other axes. Continuous parameters with many values (random search) are scattered."""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweep_cli.errors import UsageError
from sweep_cli.llm_report import llm_section, records_calls
from sweep_cli.query import ERROR_GROUPS_SQL, ResultsDB, metric_expr, objective, param_expr, summary_sql
from sweep_cli.render import cell
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.status import RunStatus, run_status

SCATTER_ABOVE = 30
"""A numeric parameter with more distinct values than this is scattered, not aggregated."""
SCATTER_LIMIT = 20_000

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f5f5f5}.num{text-align:right}pre{background:#f7f7f7;padding:.5rem;overflow:auto}
.state-succeeded{color:#187a2f}.state-failed{color:#b00}.state-partial{color:#c60}.state-running{color:#a80}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
"""


def _numeric(values: Sequence[Any]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _figure(axis: str, metrics: list[str], groups: list[tuple[Any, ...]], scatter: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = f"sweep-{axis}"
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    labels = [g[0] for g in groups]
    xs = _numeric(labels)
    for i, metric in enumerate(metrics):
        ax = grid[i // cols][i % cols]
        if scatter and xs is not None:
            ys = [g[1 + i] for g in groups]
            ax.scatter(xs, [y if y is not None else math.nan for y in ys], s=6, alpha=0.5)
        else:
            means = [g[1 + 2 * i] if g[1 + 2 * i] is not None else math.nan for g in groups]
            stds = [g[2 + 2 * i] if g[2 + 2 * i] is not None else 0.0 for g in groups]
            if xs is not None:
                if min(xs) > 0 and max(xs) / min(xs) >= 20:
                    ax.set_xscale("log")
                order = sorted(range(len(xs)), key=lambda k: xs[k])
                ax.errorbar(
                    [xs[k] for k in order],
                    [means[k] for k in order],
                    yerr=[stds[k] for k in order],
                    marker="o",
                    ms=4,
                    capsize=3,
                )
            else:
                ax.bar(range(len(labels)), means, yerr=stds, capsize=3, color="#4c78a8")
                ax.set_xticks(range(len(labels)), [str(v) for v in labels], rotation=30, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel(axis, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for j in range(len(metrics), rows * cols):
        grid[j // cols][j % cols].axis("off")
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _series_section(db: ResultsDB, manifest: RunManifest, series: str, metrics: list[str]) -> str:
    parts = [f"<h2>Series {html.escape(series)}</h2>"]
    (found,) = (s for s in PointSpace(manifest.request, manifest.effective_config()).series if s.name == series)
    for axis in found.axes:
        v = param_expr(axis)
        distinct = db.query(f"SELECT count(DISTINCT {v}) FROM points WHERE series = ?", [series]).rows[0][0]
        values_numeric = _numeric(
            [r[0] for r in db.query(f"SELECT DISTINCT {v} FROM points WHERE series = ? LIMIT 100", [series]).rows]
        )
        scatter = values_numeric is not None and distinct > SCATTER_ABOVE
        if scatter:
            selects = ", ".join(metric_expr(m) for m in metrics)
            sql = f"SELECT {v}, {selects} FROM points WHERE series = ? AND status = 'ok' LIMIT {SCATTER_LIMIT}"
        else:
            aggregates = ", ".join(f"avg({metric_expr(m)}), stddev_samp({metric_expr(m)})" for m in metrics)
            sql = f"SELECT {v} AS v, {aggregates} FROM points WHERE series = ? AND status = 'ok' GROUP BY v ORDER BY v"
        groups = db.query(sql, [series]).rows
        if not groups:
            parts.append(f"<p>No successful points vary <code>{html.escape(axis)}</code>.</p>")
            continue
        how = "each point" if scatter else "mean ± sd over repeats and the other axes"
        parts.append(
            f"<figure><figcaption>metrics against <code>{html.escape(axis)}</code> ({how})</figcaption>"
            f"{_figure(axis, metrics, groups, scatter)}</figure>"
        )
    return "\n".join(parts)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _header(manifest: RunManifest, status: RunStatus) -> str:
    request = manifest.request
    facts = [
        ("experiment", request.experiment),
        ("state", status.state),
        ("created", manifest.created_at.isoformat(timespec="seconds")),
        ("points", f"{status.points_ok:,} ok, {status.points_error:,} error, {status.points_not_run:,} not run"),
        (
            "shards",
            f"{status.shards_success:,} succeeded, {status.shards_failure:,} failed, {status.shards_pending:,} pending",
        ),
        ("code", ", ".join(f"{k} {v}" for k, v in manifest.code_version.items())),
    ]
    rows = "".join(
        f"<tr><th>{k}</th><td class='{'state-' + v if k == 'state' else ''}'>{html.escape(v)}</td></tr>"
        for k, v in facts
    )
    description = f"<p>{html.escape(request.description)}</p>" if request.description else ""
    return (
        f"<h1>Run {html.escape(manifest.run_id)}</h1>{description}<table>{rows}</table>"
        f"<h2>Config</h2><pre>{html.escape(json.dumps(manifest.effective_config(), indent=2))}</pre>"
    )


def write_report(out: Path, run_id: str, path: Path, metrics: list[str]) -> Path:
    store = LocalStore(out)
    manifest = load_manifest(store, run_id)
    status = run_status(store, run_id, manifest)
    db = ResultsDB(out, run_id)
    try:
        recorded = db.metric_names()
        unknown = [m for m in metrics if m not in recorded]
        if unknown:
            raise UsageError(
                f"metric `{unknown[0]}` was not recorded in run `{run_id}`.",
                field="--metric",
                value=unknown[0],
                hint=f"recorded metrics: {', '.join(recorded) or 'none'}.",
            )
        registry = Registry.default()
        experiment = registry.get(manifest.request.experiment) if manifest.request.experiment in registry else None
        declared = [m for m in (experiment.metrics if experiment else ()) if m in recorded]
        chosen = metrics or declared or recorded
        sections = [_header(manifest, status)]
        found = objective(manifest.request.experiment, None, lambda: recorded)
        if found is not None and found[0] in recorded:
            name, goal = found
            summary = db.query(summary_sql(name, goal, manifest.plan.repeats))
            sections.append(f"<h2>Summary — {html.escape(name)} ({goal})</h2>")
            sections.append(_table(summary.columns, summary.rows))
            if records_calls(recorded):
                sections.append(llm_section(db, manifest, name, _table))
        if status.points_error:
            errors = db.query(ERROR_GROUPS_SQL)
            sections.append(f"<h2>Point errors ({status.points_error:,})</h2>")
            sections.append(_table(["error_type", "message", "points", "example point"], errors.rows))
            sections.append(f"<p>Tracebacks: <code>sweep logs {html.escape(run_id)} --point N</code></p>")
        if chosen:
            for info in manifest.plan.series:
                sections.append(_series_section(db, manifest, info.name, chosen))
        else:
            sections.append("<p>No metrics were recorded.</p>")
        settings = [(name, record["value"], record.get("source", "")) for name, record in manifest.settings.items()]
        sections.append("<h2>Settings</h2>" + _table(["setting", "value", "source"], settings))
    finally:
        db.close()
    document = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>sweep report {html.escape(run_id)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)
    return path
