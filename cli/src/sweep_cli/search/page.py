"""`sweep report SEARCH`: a search's page in the same self-contained HTML as a run's report (inline
SVG, no scripts): the optimisation history (objective per trial, best so far), the best setting
with its 95% interval over the nuisance axes, and the parameters' importances. Every name and
value an experiment or a store wrote is escaped (`html.escape`, `render.visible` in plots)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from sweep_cli.report.page import figure, save_page, table
from sweep_cli.report.plots import _panels, _style, _svg
from sweep_cli.search.view import SearchView, _load, best_text, progress_text


def history_figure(view: SearchView) -> str:
    """The objective of each trial (failed trials as crosses at the axis) and the best so far."""
    metric = view.search.objective.metric
    fig, (ax,) = _panels(f"search-{view.search.run_id}", 1, width=7.0, height=3.2)
    done = [(r.trial.number, r.trial.value) for r in view.history if r.trial.value is not None]
    ax.scatter([n for n, _ in done], [v for _, v in done], s=12, label="trial").set_gid("sw-trials")
    steps = [(r.trial.number, r.best_so_far) for r in view.history if r.best_so_far is not None]
    if steps:
        ax.step([n for n, _ in steps], [b for _, b in steps], where="post", color="#187a2f", label="best so far")
    failed = [r.trial.number for r in view.history if r.trial.state == "fail"]
    if failed and done:
        low = min(v for _, v in done)
        ax.scatter(failed, [low] * len(failed), marker="x", color="#b00", s=14, label="failed")
    _style(ax, metric, "trial")
    ax.legend(fontsize=7)
    return _svg(fig)


def _header(view: SearchView) -> str:
    search = view.search
    spec = search.request.search
    facts = [
        ("experiment", search.request.experiment),
        ("objective", f"{search.objective.direction} {search.objective.metric}"),
        ("sampler", f"{spec.sampler}, seed {spec.seed}"),
        ("space", ", ".join(f"{k}: {d.kind} {list(d.args)}" for k, d in spec.space.items())),
        ("averaged over", ", ".join([*spec.average_over, *(["repeats"] if search.request.repeats > 1 else [])])),
        ("progress", progress_text(view)),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    return f"<h1>search {html.escape(search.run_id)}</h1><table>{rows}</table>"


def _best(view: SearchView) -> str:
    text = "".join(f"<p>{html.escape(line.strip())}</p>" for line in best_text(view).splitlines())
    return f"<h2>Best setting</h2>{text}"


def _importances(view: SearchView) -> str:
    if not view.importances:
        return "<h2>Parameter importances</h2><p>too few complete trials to tell</p>"
    rows = [(name, f"{value:.3f}") for name, value in view.importances.items()]
    note = "<p>Optuna's PED-ANOVA evaluator over the complete trials, normalised to sum to 1</p>"
    return f"<h2>Parameter importances</h2>{note}{table(['parameter', 'importance'], rows)}"


def _number(value: float | None) -> Any:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"


def _history(view: SearchView) -> str:
    names = list(view.search.request.search.space)
    metric = view.search.objective.metric
    rows = [
        (
            r.trial.number,
            r.trial.round + 1,
            *(r.trial.params.get(n) for n in names),
            r.trial.state,
            _number(r.trial.value),
            _number(r.best_so_far),
        )
        for r in view.history
    ]
    plot = figure("history", html.escape(f"{metric} per trial, best so far"), history_figure(view))
    return f"<h2>Optimisation history</h2>{plot}" + table(
        ["trial", "round", *names, "state", metric, "best so far"], rows
    )


def write_search_report(backend: Any, run_id: str, path: Path) -> Path:
    view = _load(backend, run_id)
    sections = [_header(view), _best(view), _importances(view), _history(view)]
    return save_page(path, f"sweep search {run_id}", sections)
