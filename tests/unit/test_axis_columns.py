"""Numbers as numbers: each run's `points` view gets one typed column per axis (issue 12)."""

from __future__ import annotations

from sweep_cli.results.axes import axis_select, axis_types
from sweep_cli.stage.athena import scope_to_run
from sweep_contracts.request import SweepRequest, parse_request


def test_axis_types_follow_the_values_they_share() -> None:
    # as a manifest of a run planned before axes named like columns were refused loads it (issue 20)
    request = SweepRequest.model_validate(
        {
            "experiment": "maze",
            "config": {"size": 21},
            "grids": [
                {"name": "A", "axes": {"num_ctx": [2048, 16384], "strategy": ["dfs", "random"], "flag": [True]}},
                {"name": "B", "axes": {"temperature": [0, 0.5], "mixed": [1, "two"], "status": [1]}},
            ],
        }
    )
    assert axis_types(request) == {
        "num_ctx": "bigint",
        "strategy": "varchar",
        "flag": "boolean",
        "temperature": "double",
        "mixed": "varchar",
        "status": "bigint",
    }
    # an axis named like a column of `points` is renamed, never shadows it
    assert 'AS "param_status"' in axis_select(request, "duckdb")
    # and so is one that differs from it only by case, as SQL compares names
    assert 'AS "param_Status"' in axis_select(
        SweepRequest.model_validate({"experiment": "maze", "config": {"size": 21}, "grid": {"Status": [1]}}), "duckdb"
    )


def test_athena_sql_scopes_the_run_and_adds_typed_axis_columns() -> None:
    request = parse_request({"experiment": "maze", "config": {"size": 21}, "grid": {"optim.lr": [0.1, 0.01]}})
    sql = scope_to_run('SELECT * FROM points ORDER BY "optim.lr"', "sweep_dev", "run-1", axis_select(request, "athena"))
    # THEN the run's partition is named literally and `points` carries the typed column
    assert sql.startswith('WITH stored_points AS (SELECT * FROM "sweep_dev"."points" WHERE run_id = \'run-1\')')
    assert ", TRY_CAST(element_at(params, 'optim.lr') AS DOUBLE) AS \"optim.lr\" FROM stored_points p " in sql
    assert sql.endswith('\nSELECT * FROM points ORDER BY "optim.lr"')


def test_ties_for_best_go_to_the_lowest_point_index() -> None:
    import duckdb

    from sweep_cli.results.query import summary_sql

    # GIVEN three points (2 repeats each) whose means tie, inserted in reverse order
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE points (series VARCHAR, point_index BIGINT, status VARCHAR, params MAP(VARCHAR, VARCHAR), metrics MAP(VARCHAR, DOUBLE))"
    )
    for index in reversed(range(6)):
        con.execute(
            "INSERT INTO points VALUES ('grid', ?, 'ok', MAP(['x'], [?]), MAP(['m'], [?]))",
            [index, str(index // 2), 1.0 if index // 2 else 0.5 + index],  # point 0: mean 1.0 too
        )
    # WHEN the best point is asked for, either goal
    for goal in ("max", "min"):
        ((best,),) = con.execute(f"SELECT best_params FROM ({summary_sql('m', goal, 2)})").fetchall()
        # THEN of the tied points the first one wins, every time
        assert best == {"x": "0"}


def test_an_unreachable_stage_fails_within_the_connect_timeout() -> None:
    import socket
    import time

    import boto3
    import pytest

    from sweep_cli.errors import StageUnreachableError
    from sweep_cli.stage.remote import RetryPolicy, StageClient
    from sweep_cli.stage.resolve import StageInfo

    # GIVEN a listener whose backlog is full, so a new connection is never answered
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    stage = StageInfo(name="dev", api_url=f"http://127.0.0.1:{port}", region="us-east-1")
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    # one try: what is tested is the connect timeout of a call, not the retries of a status poll
    client = StageClient(stage, session=session, connect_timeout_s=1, timeout_s=30, retry=RetryPolicy(attempts=1))
    # WHEN it is called THEN it gives up after the connect timeout, not the 30 s an answer may take
    started = time.monotonic()
    with pytest.raises(StageUnreachableError, match=r"cannot be reached \(connect timeout 1 s\)"):
        client.status("run-1")
    assert time.monotonic() - started < 10
    for s in (server, *fillers):
        s.close()
