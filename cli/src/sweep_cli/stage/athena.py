"""SQL over a stage's results with Athena, in the stage's workgroup: start, poll, fetch.

The user's SQL runs against views `points` and `outcomes` scoped to one run, exactly as locally:
the query is wrapped in CTEs that name the run's `run_id` literally, which Athena's injected
partition projection requires (a query without it is refused)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sweep_cli.errors import QueryError, UsageError
from sweep_cli.results.query import QueryResult, resolved_views
from sweep_contracts import environment
from sweep_contracts.names import RUN_ID_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient

_INTEGERS = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOATS = {"double", "float", "real", "decimal"}


def scope_to_run(sql: str, database: str, run_id: str, axes: str = "") -> str:
    """`sql` with `points` and `outcomes` bound to the run's partitions; `axes` adds the run's typed
    axis columns to `points` (`sweep_cli.results.axes.axis_select(request, "athena")`)."""
    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise UsageError(
            f"`{run_id}` is not a run id.",
            field="RUN_ID",
            value=run_id,
            hint="a run id is 3 to 63 lowercase letters, digits and `-`; list them with `sweep runs`.",
        )
    if not re.fullmatch(r"^[a-z0-9_]+$", database):
        raise UsageError(
            f"`{database}` is not a Glue database name.",
            field="glue_database",
            value=database,
            hint=f"set {environment.GLUE_DATABASE} to the stack output `glue_database` "
            "(lowercase letters, digits and `_`).",
        )
    # both names were checked against strict patterns above: nothing here comes unchecked from a user
    stored = [
        f'stored_{table} AS (SELECT * FROM "{database}"."{table}" WHERE run_id = \'{run_id}\')'  # noqa: S608
        for table in ("points", "outcomes")
    ]
    views = resolved_views("stored_points", "stored_outcomes", axes)
    ctes = ", ".join([*stored, *(f"{name} AS ({views[name]})" for name in ("outcomes", "points"))])
    body = sql.strip().rstrip(";")
    if re.match(r"(?is)^with\s", body):
        return f"WITH {ctes}, {body[4:].lstrip()}"
    return f"WITH {ctes}\n{body}"


def parse_map(text: str) -> dict[str, str]:
    """Athena renders map<string,…> cells as `{k1=v1, k2=v2}`."""
    inner = text.strip()[1:-1]
    if not inner:
        return {}
    pairs = [p.split("=", 1) for p in re.split(r", (?=[^,=]+=)", inner)]
    return {k: v for k, v in pairs}


def convert(value: str | None, athena_type: str) -> Any:
    if value is None:
        return None
    kind = athena_type.lower().split("(")[0]
    if kind in _INTEGERS:
        return int(value)
    if kind in _FLOATS:
        return float(value)
    if kind == "boolean":
        return value == "true"
    if kind == "map":
        return parse_map(value)
    return value


class AthenaQueries:
    """Runs queries in the stage's Athena workgroup (whose settings enforce the result location,
    encryption and the bytes-scanned cutoff)."""

    def __init__(
        self,
        client: AthenaClient,
        workgroup: str,
        database: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 600,
    ) -> None:
        self.client = client
        self.workgroup = workgroup
        self.database = database
        self._sleep = sleep
        self.timeout_s = timeout_s

    def run(self, sql: str, run_id: str, axes: str = "") -> QueryResult:
        query = scope_to_run(sql, self.database, run_id, axes)
        try:
            execution_id = self.client.start_query_execution(
                QueryString=query, WorkGroup=self.workgroup, QueryExecutionContext={"Database": self.database}
            )["QueryExecutionId"]
            self._wait(execution_id)
            return self._fetch(execution_id)
        except (ClientError, BotoCoreError) as exc:
            raise QueryError(
                f"Athena refused the query: {exc}",
                field="sql",
                hint=f"check that the workgroup `{self.workgroup}` exists, that your identity may use it and read "
                "the results bucket, then run the command again.",
            ) from exc

    def _wait(self, execution_id: str) -> None:
        waited, delay = 0.0, 0.25
        while True:
            status = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                raise QueryError(
                    f"the Athena query {state.lower()}: {status.get('StateChangeReason', 'no reason given')}",
                    field="sql",
                    value=execution_id,
                    hint="the views are `points` and `outcomes`; map values read as try(params['name']) and "
                    "try(metrics['name']). The workgroup's bytes-scanned cutoff also cancels large queries.",
                )
            if waited > self.timeout_s:
                self.client.stop_query_execution(QueryExecutionId=execution_id)
                raise QueryError(
                    f"the Athena query ran over {self.timeout_s:.0f} s and was stopped.",
                    field="sql",
                    value=execution_id,
                    hint="narrow the query (fewer columns, a filter, a LIMIT), or download the run with --local "
                    "and query it with DuckDB.",
                )
            self._sleep(delay)
            waited += delay
            delay = min(delay * 2, 2.0)

    def _fetch(self, execution_id: str) -> QueryResult:
        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple[Any, ...]] = []
        paginator = self.client.get_paginator("get_query_results")
        first = True
        for page in paginator.paginate(QueryExecutionId=execution_id):
            result = page["ResultSet"]
            if not columns:
                info = result["ResultSetMetadata"]["ColumnInfo"]
                columns, types = [c["Name"] for c in info], [c["Type"] for c in info]
            data = result.get("Rows", [])
            if first and data:
                data = data[1:]  # the first row of the first page repeats the column names
            first = False
            for row in data:
                cells = [cell.get("VarCharValue") for cell in row["Data"]]
                rows.append(tuple(convert(v, t) for v, t in zip(cells, types, strict=False)))
        return QueryResult(columns, rows)
