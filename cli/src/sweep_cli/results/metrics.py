"""The one check of a metric a user names (`-m` of `run`, `results`, `compare`, `report`): a name
the run did not record is bad input (exit 2) that lists the recorded ones, never an empty summary."""

from __future__ import annotations

from collections.abc import Sequence

from sweep_cli.errors import UsageError

# The metric names a run recorded, in SQL both DuckDB and Athena (Trino) run: Trino has no `unnest` in
# a select list, so the keys are unnested in the FROM clause.
RECORDED_METRICS_SQL = "SELECT DISTINCT k FROM points CROSS JOIN UNNEST(map_keys(metrics)) AS t(k) ORDER BY k"


def require_recorded(run_id: str, asked: Sequence[str], recorded: Sequence[str]) -> None:
    """Raise `UsageError` naming the first of `asked` that run `run_id` did not record."""
    unknown = [m for m in asked if m not in recorded]
    if unknown:
        raise UsageError(
            f"metric `{unknown[0]}` was not recorded in run `{run_id}`.",
            field="--metric",
            value=unknown[0],
            hint=f"recorded metrics: {', '.join(recorded) or 'none'}.",
        )
