"""The first points of a run in a table that fits a terminal (`sweep results RUN --head N`, and the
query suggested after a run): the point, its series, status and axes, and the metrics that fit,
the objective first. `SELECT * FROM points` printed 135 lines for 5 rows at 120 columns: every
column of the table, traceback and config included, folded into a few characters each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sweep_cli.results.axes import axis_types, column_name
from sweep_cli.results.query import metric_expr
from sweep_contracts.errors import SweepError
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest

if TYPE_CHECKING:
    from sweep_cli.runs import Backend

WIDTH = 120
"""The terminal width the table is made to fit."""
_CELL = 9
"""A value's width in the table when its name is shorter (a number to 4 significant digits)."""
_BORDER = 3
"""What a table column costs besides its text (rich's padding and rule)."""


def _width(name: str) -> int:
    return max(len(name), _CELL) + _BORDER


def head_columns(manifest: RunManifest, recorded: Callable[[], Sequence[str]]) -> tuple[list[str], list[str]]:
    """The axes and the metrics that fit `WIDTH` beside the point's index, series and status: the
    objective first, then the experiment's declared metrics (or the recorded ones) in order."""
    axes = [column_name(axis) for axis in axis_types(manifest.request)]
    found = Registry.default().find(manifest.request.experiment)
    declared = list(found.metrics) if found else []
    objective = [found.objective.metric] if found and found.objective else []
    candidates = list(dict.fromkeys([*objective, *(declared or recorded())]))
    used = sum(_width(name) for name in ("point_index", "series", "status", *axes)) + 1
    metrics: list[str] = []
    for name in candidates:
        if used + _width(name) > WIDTH and metrics:
            break
        metrics.append(name)
        used += _width(name)
    return axes, metrics


def head_sql(axes: Sequence[str], metrics: Sequence[str], rows: int) -> str:
    """The first `rows` points with the given axes and metrics (DuckDB and Athena alike)."""
    selected = ["point_index", "series", "status", *(f'"{axis}"' for axis in axes)]
    selected += [f'{metric_expr(metric)} AS "{metric.replace(chr(34), "")}"' for metric in metrics]
    return f"SELECT {', '.join(selected)} FROM points ORDER BY point_index LIMIT {int(rows)}"  # noqa: S608


def suggested_sql(axes: Sequence[str], metrics: Sequence[str]) -> str:
    """A short query to show on a command line: the axes and the first metric, five rows."""
    shown = [*axes, *(f"metrics['{m}'] AS {m}" for m in metrics[:1] if m.isidentifier())]
    return f"SELECT {', '.join(['point_index', *shown])} FROM points LIMIT 5"  # noqa: S608


def head_query(backend: Backend, run_id: str, rows: int) -> str:
    """`head_sql` for a run of `backend`; without its manifest, the point's params and metrics maps."""
    manifest = backend.manifest(run_id)
    if manifest is None:
        return f"SELECT point_index, series, status, params, metrics FROM points ORDER BY point_index LIMIT {rows}"  # noqa: S608
    axes, metrics = head_columns(manifest, lambda: _recorded(backend, run_id))
    return head_sql(axes, metrics, rows)


def _recorded(backend: Backend, run_id: str) -> list[str]:
    """The metrics the run recorded (DuckDB's SQL; none where the engine does not take it)."""
    try:
        found = backend.query(run_id, "SELECT DISTINCT unnest(map_keys(metrics)) AS k FROM points ORDER BY k")
    except SweepError:
        return []
    return [row[0] for row in found.rows]
