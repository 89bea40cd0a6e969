"""`sweep compare RUN_A RUN_B`: one metric side by side at every parameter point both runs share.

Per point (its parameters, repeats pooled): the mean in each run with its standard error, the
difference B − A, and the difference's standard error sqrt(se_A² + se_B²) — a point evaluated
once has no spread, so its standard error is empty rather than zero.

Overall, the difference is paired as in the per-option table (`llm_report`): per task item (the
run's nuisance axes but `seed`; each point where there are none) the mean of B − A over the points
both runs share, and over the items their mean with a 95% paired-bootstrap interval — two models
on the same task items, compared item by item."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sweep_cli import render
from sweep_cli.app import DEFAULT_OUT, Format, MetricOption, OutOption, app, handles_errors
from sweep_cli.errors import UsageError

if TYPE_CHECKING:  # the engine and the query layer wait for the command (`sweep --help` stays cheap)
    from sweep_cli.local.backend import LocalBackend
    from sweep_cli.report.comparison import Comparison

PointStats = dict[str, tuple[float, float | None, int, int]]
"""Per parameter point (its JSON text): mean, standard error, count, and its first point index."""


def _stats(backend: LocalBackend, run_id: str, metric: str) -> PointStats:
    from sweep_cli.results.query import metric_expr

    sql = (
        f"SELECT CAST(to_json(params) AS VARCHAR) AS p, avg({metric_expr(metric)}), "  # noqa: S608
        f"stddev_samp({metric_expr(metric)}), count({metric_expr(metric)}), min(point_index) "
        "FROM points WHERE status = 'ok' GROUP BY p"
    )
    out: PointStats = {}
    for params, mean, std, n, first in backend.query(run_id, sql).rows:
        if n:
            out[params] = (mean, std / math.sqrt(n) if std is not None and n > 1 else None, n, first)
    return out


def compare_runs(backend: LocalBackend, run_a: str, run_b: str, metric: str | None) -> tuple[str, Comparison]:
    from sweep_cli.report.comparison import Comparison, paired
    from sweep_cli.results.query import nuisance_axes, objective
    from sweep_orchestrator.runs import load_manifest

    experiment = load_manifest(backend.store, run_a).request.experiment
    found = objective(experiment, metric, lambda: [])
    if found is None:
        raise UsageError(
            f"run {run_a} has no declared objective to compare.",
            field="--metric",
            hint='name the metric with --metric NAME (see `sweep results RUN --sql "DESCRIBE points"`).',
        )
    name = found[0]
    if metric:
        from sweep_cli.results.metrics import require_recorded
        from sweep_cli.results.query import ResultsDB

        for run_id in (run_a, run_b):
            db = ResultsDB(backend.out, run_id)
            try:
                require_recorded(run_id, [metric], db.metric_names())
            finally:
                db.close()
    a, b = _stats(backend, run_a, name), _stats(backend, run_b, name)
    shared = [p for p in a if p in b]
    if not shared:
        raise UsageError(
            f"runs {run_a} and {run_b} share no parameter point with metric `{name}`.",
            field="RUN_B",
            value=run_b,
            hint="compare runs of the same sweep (e.g. before and after a code change, or with other config).",
        )
    rows: list[tuple[Any, ...]] = []
    # In run A's own point order: sorting the JSON text put `{"x": 10}` before `{"x": 2}`.
    for params in sorted(shared, key=lambda p: a[p][3]):
        (ma, sa, na, _), (mb, sb, nb, _) = a[params], b[params]
        se = math.sqrt(sa**2 + sb**2) if sa is not None and sb is not None else None
        rows.append((params, ma, sa, na, mb, sb, nb, mb - ma, se))
    columns = ["params", "mean_a", "se_a", "n_a", "mean_b", "se_b", "n_b", "difference", "difference_se"]
    differences = {params: b[params][0] - a[params][0] for params in shared}
    over_items, items = paired(differences, nuisance_axes(experiment))
    return name, Comparison(columns, rows, over_items, items)


@app.command()
@handles_errors
def compare(
    run_a: Annotated[str, typer.Argument(help="The first run (the baseline).")],
    run_b: Annotated[str, typer.Argument(help="The run to compare with it.")],
    out: OutOption = DEFAULT_OUT,
    metric: MetricOption = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Compare a metric of two runs at every parameter point they share: means, difference and its standard error."""
    from sweep_cli.local.backend import LocalBackend

    with LocalBackend(out) as backend:
        name, result = compare_runs(backend, run_a, run_b, metric)
    render.print_result(
        result, fmt.value, title=f"{name}: a = {run_a}, b = {run_b}; difference = b − a per shared point"
    )
    if fmt == Format.table and result.verdict:
        render.out.print(render.shown(result.verdict))
