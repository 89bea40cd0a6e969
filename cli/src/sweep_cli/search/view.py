"""What a search found, on the terminal: the optimisation history (objective per trial, best so
far), the best setting with its 95% interval over the nuisance axes, and the parameters'
importances (Optuna's PED-ANOVA evaluator). Every value an experiment or a store wrote is shown
through `render.cell`/`render.shown`."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from sweep_cli import render
from sweep_cli.app import EXIT_FAILED, EXIT_OK, EXIT_POINT_ERRORS
from sweep_cli.report.intervals import Estimate, MetricRange, estimate
from sweep_contracts.search import SearchManifest
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.search.journal import RoundRecord, TrialRecord, best_trial, read_rounds
from sweep_orchestrator.search.optimiser import importances


@dataclass(frozen=True)
class HistoryRow:
    trial: TrialRecord
    best_so_far: float | None


@dataclass(frozen=True)
class SearchView:
    """A search's state as every view shows it."""

    search: SearchManifest
    rounds: list[RoundRecord]
    history: list[HistoryRow]
    best: TrialRecord | None
    interval: Estimate | None
    importances: dict[str, float]

    @property
    def trials(self) -> list[TrialRecord]:
        return [row.trial for row in self.history]

    @property
    def rounds_done(self) -> int:
        return sum(r.done for r in self.rounds)

    @property
    def budget_left(self) -> int:
        return self.search.request.search.budget.trials - len(self.trials)


def history(trials: Sequence[TrialRecord], direction: str) -> list[HistoryRow]:
    """Trials in number order, each with the best complete value up to it."""
    rows, best = [], None
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state == "complete" and trial.value is not None:
            better = best is None or (trial.value > best if direction == "max" else trial.value < best)
            best = trial.value if better else best
        rows.append(HistoryRow(trial, best))
    return rows


def interval_of(trial: TrialRecord, trials: Sequence[TrialRecord]) -> Estimate | None:
    """The best trial's mean with its 95% interval over its points (nuisance values × repeats),
    kept within the range the search's values took."""
    values = list(trial.values)
    if not values:
        return None
    every = [v for t in trials for v in t.values] or values
    bounds = MetricRange(min(every), max(every), binary=set(every) <= {0.0, 1.0})
    sd = statistics.stdev(values) if len(values) > 1 else None
    return estimate(len(values), statistics.fmean(values), sd, bounds)


def search_view(store: LocalStore, search: SearchManifest, out: Path) -> SearchView:
    from sweep_cli.search.run import local_rows

    rounds = read_rounds(store, search, local_rows(out))
    trials = [t for r in rounds for t in r.trials]
    best = best_trial(trials, search.objective.direction)
    return SearchView(
        search=search,
        rounds=rounds,
        history=history(trials, search.objective.direction),
        best=best,
        interval=interval_of(best, trials) if best else None,
        importances=importances(search, trials),
    )


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def history_table(view: SearchView) -> Table:
    names = list(view.search.request.search.space)
    objective = view.search.objective
    table = Table(title=render.cell_text(f"search {view.search.run_id}: {objective.direction} {objective.metric}"))
    for column in ("trial", "round", *names, "state", objective.metric, "best so far"):
        table.add_column(render.cell_text(column), justify="right" if column not in names else "left")
    for row in view.history:
        t = row.trial
        table.add_row(
            str(t.number),
            str(t.round + 1),
            *(render.cell(t.params.get(n)) for n in names),
            t.state,
            _number(t.value),
            _number(row.best_so_far),
        )
    return table


def best_text(view: SearchView) -> str:
    if view.best is None or view.interval is None:
        return "no trial completed: no best setting yet"
    e, over = view.interval, _averaged(view.search)
    setting = ", ".join(f"{k}={v!r}" for k, v in view.best.params.items())
    return (
        f"best setting (trial {view.best.number}): {setting}\n"
        f"  {view.search.objective.metric} {e.mean:.6g}, 95% interval [{e.low:.6g}, {e.high:.6g}] over {e.n} points"
        f"{over}"
    )


def _averaged(search: SearchManifest) -> str:
    axes = [*search.request.search.average_over, *(["repeats"] if search.request.repeats > 1 else [])]
    return f" ({', '.join(axes)})" if axes else ""


def importance_text(view: SearchView) -> str:
    if not view.importances:
        return "parameter importances: too few complete trials"
    parts = [f"{render.cell_text(k)} {v:.2f}" for k, v in view.importances.items()]
    return "parameter importances (PED-ANOVA): " + ", ".join(parts)


def progress_text(view: SearchView) -> str:
    spec = view.search.request.search
    failed = sum(t.state == "fail" for t in view.trials)
    return (
        f"{view.rounds_done} of {spec.rounds} rounds done, {len(view.trials)} of {spec.budget.trials} trials "
        f"({failed} failed), budget left {view.budget_left} trials"
    )


def view_json(view: SearchView) -> dict[str, Any]:
    return {
        "run_id": view.search.run_id,
        "objective": view.search.objective.model_dump(),
        "rounds_done": view.rounds_done,
        "budget_left": view.budget_left,
        "history": [
            {**row.trial.__dict__, "values": list(row.trial.values), "best_so_far": row.best_so_far}
            for row in view.history
        ],
        "best": None if view.best is None else {"trial": view.best.number, "params": view.best.params},
        "interval": None if view.interval is None else view.interval.__dict__,
        "importances": view.importances,
    }


def _load(backend: Any, run_id: str) -> SearchView:
    from sweep_orchestrator.search.rounds import load_search

    rt = backend.runtime()
    return search_view(rt.store, load_search(rt, run_id), backend.out)


def status_text(view: SearchView) -> str:
    """Rounds done, best so far and budget left, in one paragraph."""
    best = view.best
    found = (
        f"best so far {best.value:.6g} (trial {best.number}: "
        + ", ".join(f"{k}={v!r}" for k, v in best.params.items())
        + ")"
        if best is not None and best.value is not None
        else "no trial completed yet"
    )
    return f"search {view.search.run_id}: {progress_text(view)}; {found}"


def print_search_status(backend: Any, run_id: str, *, as_json: bool = False) -> int:
    """`sweep status SEARCH`: exit 0 while it runs or when done with every trial ok, as `print_search` after."""
    view = _load(backend, run_id)
    if as_json:
        import json

        print(json.dumps({k: v for k, v in view_json(view).items() if k != "history"}, default=str, indent=2))
    else:
        render.out.print(render.shown(status_text(view)))
    return EXIT_OK if view.budget_left or view.best else EXIT_FAILED


def print_search(backend: Any, run_id: str, *, quiet: bool = False, fmt: str = "table") -> int:
    """Show a search (unless `quiet`) and answer its exit code: 0 when a trial completed and none
    failed, 3 when some failed, 1 when none completed."""
    view = _load(backend, run_id)
    if fmt == "json":
        import json

        print(json.dumps(view_json(view), default=str, indent=2))
    elif not quiet:
        render.out.print(history_table(view))
        render.out.print(render.shown(best_text(view), lines=True))
        render.out.print(render.shown(importance_text(view)))
        render.out.print(render.shown(progress_text(view)))
    if view.best is None:
        return EXIT_FAILED
    return EXIT_POINT_ERRORS if any(t.state == "fail" for t in view.trials) else EXIT_OK
