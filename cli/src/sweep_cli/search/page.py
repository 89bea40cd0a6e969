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
from sweep_cli.report.svg import COLOURS, Layout, Scale, Text, dots, frame, legend, number
from sweep_cli.search.view import SearchView, _load, best_text, progress_text


def history_figure(view: SearchView) -> str:
    """The objective of each trial (failed trials as crosses at the axis' foot) and the best so far,
    drawn with the report's own SVG kit (`report.svg`: text as text, escaped)."""
    names = Text()
    layout = Layout(1, width=640, height=260, header=22)
    panel = layout.panel(0)
    done = [(float(r.trial.number), float(r.trial.value)) for r in view.history if r.trial.value is not None]
    steps = [(float(r.trial.number), float(r.best_so_far)) for r in view.history if r.best_so_far is not None]
    failed = [float(r.trial.number) for r in view.history if r.trial.state == "fail"]
    numbers = [n for n, _ in done] + failed or [0.0]
    xscale = Scale.around(numbers, panel.left, panel.right)
    yscale = Scale.around([v for _, v in done], panel.bottom, panel.top)
    body = [
        legend("", [("trial", 5), ("best so far", 11), *([("failed", 6)] if failed else [])], layout.width)[0],
        frame(
            panel,
            names(view.search.objective.metric, 40),
            "trial",
            [(xscale(t), number(t)) for t in xscale.ticks()],
            [(yscale(t), number(t)) for t in yscale.ticks()],
        ),
        dots([(xscale(n), yscale(v)) for n, v in done], 5, COLOURS[0], 0.8, "sw-trials"),
    ]
    if steps:  # a step line: the best holds until a trial improves on it
        d = f"M{xscale(steps[0][0]):.1f} {yscale(steps[0][1]):.1f}" + "".join(
            f"H{xscale(n):.1f}V{yscale(b):.1f}" for n, b in steps[1:]
        )
        body.append(f'<path id="sw-best" d="{d}" stroke="{COLOURS[1]}" stroke-width="1.5" fill="none"/>')
    if failed:
        foot = panel.bottom - 4
        crosses = "".join(f"M{xscale(n) - 3:.1f} {foot - 3:.1f}l6 6m0 -6l-6 6" for n in failed)
        body.append(f'<path id="sw-failed" d="{crosses}" stroke="{COLOURS[2]}" stroke-width="1.2" fill="none"/>')
    return layout.svg(body)


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
