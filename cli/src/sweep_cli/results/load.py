"""`sweep.load`: a run's points as a pandas DataFrame, the way researchers analyse them.

One row per point; columns: `point_index`, `series`, `repeat`, `status`, `error_type`,
`error_message`, `duration_ms`, one typed column per axis (named as in the `points` view, see
`sweep_cli.results.axes`), one float column per metric (`metric_<name>` when an axis has its name),
and `config`, the point's effective config as a dict."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sweep_cli.errors import UsageError
from sweep_cli.results.axes import axis_types, column_name
from sweep_cli.results.query import ResultsDB
from sweep_contracts import environment, layout
from sweep_contracts.schema import reserved_column
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.runs import load_manifest

if TYPE_CHECKING:
    import pandas as pd

_FIXED = "point_index, series, repeat, status, error_type, error_message, duration_ms"


def _locate(run: str | os.PathLike[str], out: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """(results directory, run id) from a run id, or from the path of a run's points directory."""
    path = Path(run)
    if path.name.startswith("run_id=") and path.is_dir():  # …/points/run_id=<id>
        return path.parent.parent, path.name.removeprefix("run_id=")
    if path.is_dir() and (path / layout.RUNS).is_dir():  # a results directory holding one run
        runs = sorted(p.name.removeprefix("run_id=") for p in (path / layout.RUNS).glob("run_id=*"))
        if len(runs) != 1:
            raise UsageError(
                f"{path} holds {len(runs)} runs; which one?",
                field="run",
                value=str(path),
                hint=f"call `sweep.load(RUN_ID, out={str(path)!r})`; runs here: {', '.join(runs[:10]) or 'none'}.",
            )
        return path, runs[0]
    return Path(out or os.environ.get(environment.OUT) or "sweep-results"), str(run)


def load(run: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The points of run `run` (a run id in `out`, default `sweep-results`, or a path) as a DataFrame."""
    root, run_id = _locate(run, out)
    manifest = load_manifest(LocalStore(root), run_id)  # an unknown run is a clear error
    axes = [column_name(axis) for axis in axis_types(manifest.request)]
    db = ResultsDB(root, run_id)
    try:
        metrics = db.metric_names()
        # compared ignoring case, as DuckDB compares column names: a metric `Status` or `config` in
        # rows written before metrics were refused such names must not shadow a column or be dropped
        taken = {a.casefold() for a in axes}
        named = [(m, f"metric_{m}" if m.casefold() in taken or reserved_column(m) else m) for m in metrics]
        columns = [_FIXED, *(f'"{a}"' for a in axes)]
        columns += [f"metrics['{m.replace(chr(39), chr(39) * 2)}'] AS \"{n.replace(chr(34), '')}\"" for m, n in named]
        sql = f"SELECT {', '.join(columns)}, config_json FROM points ORDER BY point_index"  # noqa: S608
        frame: pd.DataFrame = db.con.execute(sql).df()
    finally:
        db.close()
    frame["config"] = [json.loads(text) for text in frame.pop("config_json")]
    return frame
