"""`sweep report RUN_A RUN_B …`: several runs overlaid in one self-contained HTML file.

For every axis the runs share (in any series), each metric they all recorded is drawn against
that axis with one line per run: the mean over the run's points at each value, with the 95%
interval of `sweep_cli.report.intervals` (the metric's range pooled over all the runs). Two runs also
get the `sweep compare` table: the metric side by side at every point they share."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from sweep_cli.errors import UsageError
from sweep_cli.report.data import MAX_CATEGORIES, REPLICATE_AXES, cells, metric_ranges, others_note, top_values
from sweep_cli.report.page import INTERVAL_NOTE, Figures, chosen_metrics, figure, save_page, shortened_section, table
from sweep_cli.report.plots import lines_figure
from sweep_cli.report.svg import Text
from sweep_cli.results.query import ResultsDB, objective
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.status import run_status


def default_name(run_ids: Sequence[str]) -> str:
    return "report-" + "-vs-".join(run_ids) + ".html"


def _axes(manifest: RunManifest) -> list[str]:
    space = PointSpace(manifest.request, manifest.effective_config())
    found = dict.fromkeys(axis for series in space.series for axis in series.axes)
    return [a for a in found if a not in REPLICATE_AXES]


def _runs_table(store: LocalStore, manifests: dict[str, RunManifest]) -> str:
    rows = []
    for run_id, manifest in manifests.items():
        status = run_status(store, run_id, manifest)
        points = f"{status.points_ok:,} ok, {status.points_error:,} error, {status.points_not_run:,} not run"
        code = ", ".join(f"{k} {v}" for k, v in manifest.code_version.items())
        rows.append((run_id, manifest.request.experiment, status.label, points, manifest.created_at, code))
    return table(["run", "experiment", "state", "points", "created", "code"], rows)


def _compare_section(out: Path, run_a: str, run_b: str, metric: str | None) -> str:
    from sweep_cli.commands.compare import compare_runs
    from sweep_cli.local.backend import LocalBackend

    with LocalBackend(out) as backend:
        try:
            name, result = compare_runs(backend, run_a, run_b, metric)
        except UsageError as exc:
            return f"<p>{html.escape(exc.message)}</p>"
    title = f"<h2>Shared points — {html.escape(name)}: a = {html.escape(run_a)}, b = {html.escape(run_b)}</h2>"
    verdict = f"<p class='verdict'>{html.escape(result.verdict)}</p>" if result.verdict else ""
    return title + verdict + table(result.columns, result.rows)


def _shared(run_ids: Sequence[str], per_run: Sequence[Sequence[str]], what: str, hint: str) -> list[str]:
    shared = [name for name in per_run[0] if all(name in names for names in per_run[1:])]
    if not shared:
        raise UsageError(
            f"runs {', '.join(run_ids)} share no {what}.",
            field="RUN_ID",
            value=" ".join(run_ids),
            hint=hint,
        )
    return shared


def write_overlay(out: Path, run_ids: Sequence[str], path: Path, metrics: list[str]) -> Path:
    if len(set(run_ids)) < len(run_ids):
        raise UsageError("a run is named twice.", field="RUN_ID", value=" ".join(run_ids), hint="name each run once.")
    store = LocalStore(out)
    manifests = {run_id: load_manifest(store, run_id) for run_id in run_ids}
    dbs = [ResultsDB(out, run_id) for run_id in run_ids]
    try:
        chosen = [
            chosen_metrics(run_id, manifests[run_id].request.experiment, db.metric_names(), metrics)
            for run_id, db in zip(run_ids, dbs, strict=True)
        ]
        shared_metrics = _shared(run_ids, chosen, "metric", "overlay runs of the same experiment, or name --metric.")
        hint = "overlay runs that sweep the same parameter (e.g. before and after a change); see `sweep compare`."
        axes = _shared(run_ids, [_axes(m) for m in manifests.values()], "swept axis", hint)
        bounds = metric_ranges(dbs, shared_metrics)
        sections = [f"<h1>Runs {html.escape(', '.join(run_ids))}</h1>", _runs_table(store, manifests)]
        if len(run_ids) == 2:
            found = objective(manifests[run_ids[0]].request.experiment, metrics[0] if metrics else None)
            sections.append(_compare_section(out, run_ids[0], run_ids[1], found[0] if found else shared_metrics[0]))
        ids, names = Figures(), Text()
        for axis in axes:
            every = [
                (run_id, {key[0]: e for key, e in cells(db, [axis], shared_metrics, bounds).items()})
                for run_id, db in zip(run_ids, dbs, strict=True)
            ]
            lines, total = top_values(every)
            if not any(points for _, points in lines):
                sections.append(f"<p>No successful points vary <code>{html.escape(axis)}</code>.</p>")
                continue
            caption = (
                f"metrics against <code>{html.escape(axis)}</code>, one line per run "
                f"(mean over repeats and the other axes; {INTERVAL_NOTE}{others_note(MAX_CATEGORIES, total)})"
            )
            svg = lines_figure(ids.next_id(), axis, shared_metrics, lines, "run", names)
            sections.append(figure("overlay", caption, svg))
        sections.append(shortened_section(names))
    finally:
        for db in dbs:
            db.close()
    return save_page(path, f"sweep report {' vs '.join(run_ids)}", sections)
