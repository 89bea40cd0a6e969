"""The CLI against a stage: SigV4-signed requests to the API, Athena queries, downloads for DuckDB.

The "stage" is a loopback HTTP server that checks each request's SigV4 signature (as API Gateway's
AWS_IAM authorization does), turns it into an HTTP API v2 event for the orchestrator handler
(inside moto), and — standing in for Lambda — runs one pending shard per status poll."""

from __future__ import annotations

import html
import io
import json
import os
import re
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto.athena.models import QueryResults, athena_backends
from typer.testing import CliRunner

from sweep_cli.errors import UsageError
from sweep_cli.main import app
from sweep_cli.results.metrics import RECORDED_METRICS_SQL
from sweep_cli.stage.athena import parse_map, scope_to_run
from sweep_cli.stage.resolve import resolve_stage
from sweep_orchestrator import handler
from sweep_orchestrator.dispatched import write_record
from tests.cloud import REGION, WORKER, LambdaContext, Stage, api_event
from tests.sigv4 import signature_ok

runner = CliRunner()
SWEEP = """
experiment: synthetic
run_id: remote-1
config: {y: -0.2}
grid: {x: [0.1, 0.3, 0.5]}
repeats: 2
shard_size: 2
"""


class FakeApi:
    def __init__(self, stage: Stage) -> None:
        self.stage, self.requests = stage, []
        self.lock = threading.Lock()
        # the identity allowed to call the API: whoever holds the credentials when the stage is built
        self.credentials = boto3.Session().get_credentials().get_frozen_credentials()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = f"http://{self.headers['Host']}{self.path}"
                if not signature_ok(
                    self.command, url, dict(self.headers), body, api.credentials, "execute-api", REGION
                ):
                    self._answer(403, {"message": "The request signature we calculated does not match"})
                    return
                with api.lock:
                    api.requests.append((self.command, self.path))
                    if self.command == "GET" and self.path.startswith("/runs/"):
                        pending = api.stage.invokes.take(WORKER)
                        api.stage.invokes.calls.extend((WORKER, p) for p in pending[1:])
                        for task in pending[:1]:
                            api.stage.deliver(task)
                    path = urlsplit(self.path)
                    event = api_event(
                        self.command, path.path + (f"?{path.query}" if path.query else ""), raw_body=body.decode()
                    )
                    answer = handler.handler(event, LambdaContext())
                self._answer(answer["statusCode"], json.loads(answer["body"]))

            def _answer(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve  # noqa: N815 - names http.server looks up

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi(stage)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr("sweep_cli.stage.backend.POLL_S", 0.0)
    yield fake
    fake.server.shutdown()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def sweep_file(tmp_path: Path) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP)
    return str(path)


def test_submit_and_watch_a_run_on_the_stage(api: FakeApi, tmp_path: Path) -> None:
    code, output = invoke("submit", sweep_file(tmp_path), "--endpoint", api.url, "--region", REGION, "--watch")
    assert code == 0, output
    assert "run remote-1 accepted: 6 points in 3 shards of 2 on stage custom" in output
    # no time per point given: each of the 3 shards may run to the 900 s timeout at 1,769 MB
    # ($0.06 before the estimate billed the LISTs of `--watch` and the workers' INIT)
    assert "estimate: at most $0.07, the last shard ending after at most 900 s on 1,000 workers" in output
    assert "succeeded" in output
    assert api.requests[0] == ("POST", "/runs")
    assert ("GET", "/runs/remote-1") in api.requests


def test_unsigned_or_badly_signed_requests_are_refused(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-key-the-stage-knows")
    code, output = invoke("submit", sweep_file(tmp_path), "--endpoint", api.url, "--region", REGION)
    assert code == 2
    assert "error: the API refused the request (The request signature we calculated does not match)." in output
    assert "execute-api:Invoke" in output
    assert api.requests == []


def test_api_errors_come_back_as_the_same_clear_paragraph(api: FakeApi, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SWEEP.replace("config: {y: -0.2}", "config: {}"))
    code, output = invoke("submit", str(bad), "--endpoint", api.url, "--region", REGION)
    assert code == 2
    assert output.startswith("error: `config` is empty; every sweep needs its experiment config.")


def test_status_retry_and_runs_on_the_stage(api: FakeApi, tmp_path: Path) -> None:
    invoke("submit", sweep_file(tmp_path), "--endpoint", api.url, "--region", REGION)
    api.stage.invokes.take()  # the shards were "lost": nothing runs them
    # ... and their dispatch is long past its deadline (shard budget + margin): they are overdue
    write_record(api.stage.store, "remote-1", datetime.now(UTC) - timedelta(hours=2), 3)
    code, output = invoke("status", "remote-1", "--endpoint", api.url, "--region", REGION, "--json")
    assert (code, json.loads(output)["missing_shards"], json.loads(output)["state"]) == (1, [0, 1, 2], "stalled")
    code, output = invoke("retry", "remote-1", "--endpoint", api.url, "--region", REGION, "--watch")
    assert code == 0, output
    assert "retrying 0 failed and 3 missing shards of remote-1 (3 handed over, 0 not)" in output
    code, output = invoke("runs", "--endpoint", api.url, "--region", REGION)
    assert "remote-1" in output


def test_watch_ends_when_the_run_stalls(api: FakeApi, tmp_path: Path) -> None:
    # GIVEN a run whose shards were lost and are now past their deadline
    invoke("submit", sweep_file(tmp_path), "--endpoint", api.url, "--region", REGION)
    api.stage.invokes.take()
    write_record(api.stage.store, "remote-1", datetime.now(UTC) - timedelta(hours=2), 3)
    # WHEN the user watches it THEN the watch ends (nothing will run those shards) and says they did not finish
    code, output = invoke("status", "remote-1", "--endpoint", api.url, "--region", REGION, "--watch")
    assert code == 1, output
    assert "stalled" in output


ATHENA_COLUMN = {
    "CatalogName": "hive",
    "SchemaName": "",
    "TableName": "",
    "Label": "",
    "Precision": 0,
    "Scale": 0,
    "Nullable": "UNKNOWN",
    "CaseSensitive": False,
}


def finished_run_with_athena(api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A run submitted and watched to its end on the stage, whose Athena workgroup and Glue database
    are set; moto's Athena backend, which answers queries from its `query_results_queue`."""
    monkeypatch.setenv("SWEEP_ATHENA_WORKGROUP", "sweep-test")
    monkeypatch.setenv("SWEEP_GLUE_DATABASE", "sweep_test")
    monkeypatch.setattr("sweep_cli.stage.athena.time.sleep", lambda s: None)
    invoke("submit", sweep_file(tmp_path), "--endpoint", api.url, "--region", REGION, "--watch")
    boto3.client("athena", region_name=REGION).create_work_group(Name="sweep-test")
    return athena_backends["123456789012"][REGION]


def test_results_run_in_athena_scoped_to_the_run(api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = finished_run_with_athena(api, tmp_path, monkeypatch)
    column = ATHENA_COLUMN
    backend.query_results_queue.append(
        QueryResults(
            rows=[
                {"Data": [{"VarCharValue": "x"}, {"VarCharValue": "n"}, {"VarCharValue": "params"}]},
                {"Data": [{"VarCharValue": "0.3"}, {"VarCharValue": "2"}, {"VarCharValue": "{x=0.3}"}]},
                {"Data": [{"VarCharValue": "0.5"}, {"VarCharValue": "2"}, {}]},
            ],
            column_info=[
                {**column, "Name": "x", "Type": "varchar"},
                {**column, "Name": "n", "Type": "bigint"},
                {**column, "Name": "params", "Type": "map"},
            ],
        )
    )
    sql = "SELECT try(params['x']) AS x, count(*) AS n FROM points GROUP BY 1"
    code, output = invoke("results", "remote-1", "--endpoint", api.url, "--region", REGION, "--sql", sql, "-f", "json")
    assert code == 0, output
    assert json.loads(output) == [{"x": "0.3", "n": 2, "params": {"x": "0.3"}}, {"x": "0.5", "n": 2, "params": None}]
    (execution,) = backend.executions.values()
    assert execution.workgroup.name == "sweep-test"
    assert execution.context["Database"] == "sweep_test"
    assert execution.query == scope_to_run(sql, "sweep_test", "remote-1")
    assert "WHERE run_id = 'remote-1'" in execution.query


def test_results_local_downloads_the_run_and_uses_duckdb(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cloud import BUCKET

    monkeypatch.setenv("SWEEP_RESULTS_BUCKET", BUCKET)
    invoke("submit", sweep_file(tmp_path), "--endpoint", api.url, "--region", REGION, "--watch")
    out = str(tmp_path / "copy")
    code, output = invoke("results", "remote-1", "--endpoint", api.url, "--region", REGION, "--local", "--out", out)
    assert code == 0, output
    assert "downloaded 7 changed objects of run remote-1" in output  # manifest, 3 points, 3 outcomes
    assert "x=0.3" in output
    code, output = invoke("results", "remote-1", "--endpoint", api.url, "--region", REGION, "--local", "--out", out)
    assert "downloaded 0 changed objects" in output
    assert invoke("results", "remote-1", "--out", out)[0] == 0  # and offline afterwards


def test_scoping_keeps_the_users_own_with_clause() -> None:
    scoped = scope_to_run("WITH best AS (SELECT 1) SELECT * FROM best", "db", "run-1")
    assert scoped.startswith(
        'WITH stored_points AS (SELECT * FROM "db"."points" WHERE run_id = \'run-1\'), stored_outcomes AS'
    )
    assert scoped.endswith(", best AS (SELECT 1) SELECT * FROM best")
    with pytest.raises(UsageError):
        scope_to_run("SELECT 1", "db", "x'; DROP TABLE points; --")


def test_athena_map_cells_parse() -> None:
    assert parse_map("{size=11, strategy=dfs-recall}") == {"size": "11", "strategy": "dfs-recall"}
    assert parse_map("{}") == {}


def test_stage_outputs_come_from_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: sweep\n")
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    outputs = {
        "api_url": "https://abc.execute-api.eu-west-1.amazonaws.com",
        "results_bucket": "b",
        "glue_database": "sweep_dev",
        "athena_workgroup": "sweep-dev",
    }
    fake.write_text(
        f"#!/bin/sh\n[ \"$5\" = dev ] && echo '{json.dumps(outputs)}' || {{ echo 'no stack' >&2; exit 1; }}\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    for name in ("SWEEP_API_URL", "SWEEP_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    info = resolve_stage("dev", None, None)
    assert (info.api_url, info.region, info.glue_database) == (outputs["api_url"], "eu-west-1", "sweep_dev")
    with pytest.raises(UsageError, match="pulumi stack output --stack prod"):
        resolve_stage("prod", None, None)


def test_without_pulumi_or_endpoint_the_error_says_how_to_point_at_a_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SWEEP_API_URL", raising=False)
    code, output = invoke("status", "run-1", "--stage", "dev")
    assert code == 2
    assert "error: no endpoint for stage `dev`." in output
    assert "--endpoint" in output


def test_a_missing_passphrase_says_which_variable_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack on a self-managed backend and no PULUMI_CONFIG_PASSPHRASE (pulumi/pulumi#21141)
    (tmp_path / "Pulumi.yaml").write_text("name: sweep\n")
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\necho \'error: constructing secrets manager of type "passphrase": unable to find either '
        "`PULUMI_CONFIG_PASSPHRASE` or `PULUMI_CONFIG_PASSPHRASE_FILE`' >&2\nexit 255\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWEEP_API_URL", raising=False)
    # WHEN the CLI looks up the stage's endpoint
    with pytest.raises(UsageError) as info:
        resolve_stage("dev", None, None)
    # THEN the hint names the variable, not just "are you logged in"
    assert info.value.hint == (
        "the stack's backend is self-managed (`pulumi login --local` or s3://…), and Pulumi needs its passphrase "
        "even to read the outputs: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE), "
        "or pass --endpoint."
    )


def test_a_metric_typo_on_a_stage_lists_the_recorded_metrics_23(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a finished run on the stage, whose points recorded `distance` and `value` (Athena's answer)
    backend = finished_run_with_athena(api, tmp_path, monkeypatch)
    backend.query_results_queue.append(
        QueryResults(
            rows=[
                {"Data": [{"VarCharValue": "k"}]},
                {"Data": [{"VarCharValue": "distance"}]},
                {"Data": [{"VarCharValue": "value"}]},
            ],
            column_info=[{**ATHENA_COLUMN, "Name": "k", "Type": "varchar"}],
        )
    )
    # WHEN the user summarises it by a metric it did not record
    result = runner.invoke(app, ["results", "remote-1", "--endpoint", api.url, "--region", REGION, "-m", "valeu"])
    # THEN it is bad input naming the recorded metrics (exit 2), as locally, not an empty summary
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert "error: metric `valeu` was not recorded in run `remote-1`." in result.stderr
    assert "recorded metrics: distance, value." in result.stderr
    # AND the names came from one Athena query scoped to the run
    (execution,) = backend.executions.values()
    assert execution.query == scope_to_run(RECORDED_METRICS_SQL, "sweep_test", "remote-1")


SEARCH_FILE = """
experiment: synthetic
run_id: cli-search
config: {noise: 0.0}
search:
  space: {x: {uniform: [-1, 1]}}
  seed: 5
  budget: {trials: 8}
  batch: 4
"""


def search_file(tmp_path: Path, text: str = SEARCH_FILE) -> str:
    path = tmp_path / "search.yaml"
    path.write_text(text)
    return str(path)


def run_search_on_stage(stage: Stage, limit: int = 100) -> None:
    """What the stage does with no client attached: the search function's steps, the workers, and
    the bucket's notification of each outcome (the round trigger)."""
    from sweep_contracts import layout
    from sweep_orchestrator import deps
    from sweep_orchestrator.search.totals import OutcomeTotals
    from sweep_orchestrator.search.trigger import on_outcomes
    from tests.cloud import SEARCH

    for _ in range(limit):
        with stage.invokes.lock:
            calls, stage.invokes.calls = stage.invokes.calls, []
        if not calls:
            return
        for function, payload in calls:
            if function == SEARCH:
                stage.step_search(payload)
                continue
            stage.deliver(payload)
            keys = stage.object_keys(layout.outcomes_prefix(payload["run_id"]))
            on_outcomes(deps.current().runtime, keys, OutcomeTotals(stage.store))
    raise AssertionError(f"the stage still invokes after {limit} deliveries")


def test_submit_a_search_to_the_stage_and_see_it_done(api: FakeApi, tmp_path: Path) -> None:
    flags = ("--endpoint", api.url, "--region", REGION)
    # WHEN a search file is submitted to the stage
    code, output = invoke("submit", search_file(tmp_path), *flags)
    # THEN it says what started and what to run next
    assert code == 0, output
    assert (
        "search cli-search accepted on stage custom: 8 trials in 2 rounds (4, 4 trials), 1 points per trial" in output
    )
    assert "first round: run cli-search-r000 (the search function starts it)" in output
    assert "worst case: $" in output
    assert f"follow: sweep status cli-search --endpoint {api.url}" in output
    assert api.requests == [("POST", "/runs")]
    # WHEN it is submitted again THEN the stage answers with the same search
    code, output = invoke("submit", search_file(tmp_path), *flags)
    assert (code, "search cli-search exists already" in output) == (0, True), output
    # WHEN its rounds run on the stage, and then its status is asked
    run_search_on_stage(api.stage)
    code, output = invoke("status", "cli-search", *flags)
    # THEN the status shows every round done, the best so far, and no budget left
    assert code == 0, output
    assert (
        "search cli-search: 2 of 2 rounds done, 8 of 8 trials (0 failed), budget left 0 trials; best so far" in output
    )
    assert "done: the budget of 8 trials is spent; round 2 (cli-search-r001): succeeded" in output
    code, output = invoke("status", "cli-search", *flags, "--json")
    answer = json.loads(output)
    assert (answer["state"], answer["rounds_done"], answer["budget"]["trials_left"]) == ("done", 2, 0)


def test_results_of_a_search_on_the_stage_show_its_history_and_best(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cloud import BUCKET

    monkeypatch.setenv("SWEEP_RESULTS_BUCKET", BUCKET)
    stage = ("--endpoint", api.url, "--region", REGION)
    flags = (*stage, "--out", str(tmp_path / "results"))
    # GIVEN a search that ran to done on the stage
    code, output = invoke("submit", search_file(tmp_path), *stage)
    assert code == 0, output
    run_search_on_stage(api.stage)
    # WHEN its results are asked on the stage
    code, output = invoke("results", "cli-search", *flags)
    # THEN its record and both rounds are downloaded, and shown as a local search is
    assert code == 0, output
    assert "search cli-search and its rounds into" in output
    assert "search cli-search: max value" in output
    assert "best setting (trial " in output
    assert "2 of 2 rounds done, 8 of 8 trials (0 failed), budget left 0 trials" in output
    # WHEN asked again with --local THEN nothing changed is fetched, and the view is the same
    code, again = invoke("results", "cli-search", *flags, "--local")
    assert code == 0, again
    assert "downloaded 0 changed objects of search cli-search" in again
    assert again.split("\n", 1)[1] == output.split("\n", 1)[1]
    code, output = invoke("results", "cli-search", *flags, "--format", "json")
    assert [r["number"] for r in json.loads(output[output.index("{") :])["history"]] == list(range(8))


def test_report_of_a_search_on_the_stage_writes_its_history(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cloud import BUCKET

    monkeypatch.setenv("SWEEP_RESULTS_BUCKET", BUCKET)
    out = tmp_path / "results"
    stage = ("--endpoint", api.url, "--region", REGION)
    flags = (*stage, "--out", str(out))
    assert invoke("submit", search_file(tmp_path), *stage)[0] == 0
    run_search_on_stage(api.stage)
    # WHEN the search's report is asked on the stage
    code, output = invoke("report", "cli-search", *flags, "--no-open")
    # THEN the page has the history figure, the best setting and the importances
    assert code == 0, output
    page = (out / "report-cli-search.html").read_text()
    for heading in ("Best setting", "Parameter importances", "Optimisation history"):
        assert f"<h2>{heading}</h2>" in page
    assert "data-kind='history'" in page
    assert '<path id="sw-best"' in page
    # WHEN the id names nothing on the stage THEN it is the missing run's error, no traceback
    result = runner.invoke(app, ["report", "no-such-search", *flags, "--no-open"])
    assert result.exit_code == 2, result.output
    assert "the stage's bucket has no run `no-such-search`." in result.stderr
    assert "Traceback" not in result.output


def test_status_of_a_search_mid_round_on_the_stage(api: FakeApi, tmp_path: Path) -> None:
    flags = ("--endpoint", api.url, "--region", REGION)
    invoke("submit", search_file(tmp_path), *flags)
    code, output = invoke("status", "cli-search", *flags)
    assert "starting: no round has started yet" in output, output
    from tests.cloud import SEARCH

    for payload in api.stage.invokes.take(SEARCH):
        api.stage.step_search(payload)
    # the fake API runs one pending shard per status poll: 1 of the round's 4
    code, output = invoke("status", "cli-search", *flags)
    assert code == 0, output
    assert "search cli-search: 0 of 2 rounds done, 4 of 8 trials (0 failed), budget left 4 trials; no trial" in output
    assert "running: round 1 of 2 is running; round 1 (cli-search-r000): running, 1 of 4 shards succeeded" in output


def test_retry_a_search_on_the_stage_reruns_its_current_rounds_failed_trial(api: FakeApi, tmp_path: Path) -> None:
    from sweep_contracts.outcomes import ErrorCode
    from sweep_orchestrator.failures import ShardFailure, record_failures
    from tests.cloud import SEARCH

    flags = ("--endpoint", api.url, "--region", REGION)
    invoke("submit", search_file(tmp_path), *flags)
    for payload in api.stage.invokes.take(SEARCH):
        api.stage.step_search(payload)
    # GIVEN round 1 with one shard done, one crashed (its failure recorded) and two running
    tasks = api.stage.invokes.take(WORKER)
    api.stage.deliver(tasks[0])
    crashed = ShardFailure(1, 1, 1, ErrorCode.WORKER_CRASHED, "the worker's process died")
    record_failures(api.stage.store, "cli-search-r000", [crashed], datetime.now(UTC))
    # WHEN the search is retried
    code, output = invoke("retry", "cli-search", *flags)
    # THEN its failed trial's shard is sent again and the search stepped
    assert code == 0, output
    assert (
        "search cli-search: retrying 1 failed and 0 missing shards of cli-search-r000 (1 handed over, 0 not); "
        "the search function was asked to step the search." in output
    )
    assert [(t["shard_id"], t["attempt"]) for t in api.stage.invokes.take(WORKER)] == [(1, 2)]


def test_retry_watch_of_a_search_follows_it_to_done(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cloud import SEARCH

    flags = ("--endpoint", api.url, "--region", REGION)
    invoke("submit", search_file(tmp_path), *flags)
    api.stage.invokes.take(SEARCH)  # GIVEN a search whose first step was lost
    monkeypatch.setattr("sweep_cli.search.stage.time.sleep", lambda s: run_search_on_stage(api.stage))
    # WHEN it is retried with --watch THEN the step starts it, and the watch follows it to done
    code, output = invoke("retry", "cli-search", *flags, "--watch")
    assert code == 0, output
    assert "nothing to rerun: no round has started yet" in output
    assert "done: the budget of 8 trials is spent" in output


def test_submit_watch_follows_a_search_until_it_is_done(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stage whose steps, workers and outcome notifications run between two polls
    monkeypatch.setattr("sweep_cli.search.stage.time.sleep", lambda s: run_search_on_stage(api.stage))
    # WHEN a search is submitted with --watch
    code, output = invoke("submit", search_file(tmp_path), "--endpoint", api.url, "--region", REGION, "--watch")
    # THEN each round is said as it changes, and the watch ends with the search done
    assert code == 0, output
    assert "starting: no round has started yet" in output
    assert "done: the budget of 8 trials is spent" in output
    assert "search cli-search: 2 of 2 rounds done, 8 of 8 trials (0 failed)" in output


def test_watch_of_a_search_that_does_not_move_ends_and_says_how_to_step_it(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a search whose first step was lost
    from tests.cloud import SEARCH

    invoke("submit", search_file(tmp_path), "--endpoint", api.url, "--region", REGION)
    api.stage.invokes.take(SEARCH)
    monkeypatch.setattr("sweep_cli.search.stage.STILL_POLLS", 3)
    monkeypatch.setattr("sweep_cli.search.stage.time.sleep", lambda s: None)
    # WHEN it is watched THEN the watch ends after the polls it waits, naming the retry that steps it
    code, output = invoke("status", "cli-search", "--endpoint", api.url, "--region", REGION, "--watch")
    assert code == 1, output
    assert "the search has not moved for 3 polls: `sweep retry cli-search --endpoint" in output


def stage_env(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """`--stage dev` naming the fake API and the moto bucket (as its Pulumi outputs would)."""
    from tests.cloud import BUCKET

    monkeypatch.setenv("SWEEP_API_URL", api.url)
    monkeypatch.setenv("SWEEP_RESULTS_BUCKET", BUCKET)
    return ("--stage", "dev", "--region", REGION)


def bucket_points(stage: Stage, run_id: str) -> list[dict[str, Any]]:
    """The run's point rows as the workers wrote them to the bucket, read with pyarrow alone."""
    import pyarrow.parquet as pq

    from sweep_contracts import layout

    rows: list[dict[str, Any]] = []
    for key in stage.object_keys(layout.points_prefix(run_id)):
        data = stage.store.get(key)
        assert data is not None
        rows += pq.read_table(io.BytesIO(data)).to_pylist()
    return rows


def header_cells(page: str) -> dict[str, tuple[str, str]]:
    """The report header's facts: name -> (CSS class, text)."""
    return {k: (c, v) for k, c, v in re.findall(r"<tr><th>(\w+)</th><td class='([^']*)'>([^<]*)</td></tr>", page)}


def summary_rows(page: str) -> list[dict[str, str]]:
    """The summary table of the report: one dict per series, keyed by the column headings."""
    table = page.split("<h2>Summary", 1)[1].split("</table>", 1)[0]
    heads = re.findall(r"<th>([^<]*)</th>", table)
    return [
        dict(zip(heads, [html.unescape(c) for c in re.findall(r"<td>([^<]*)</td>", row)], strict=True))
        for row in re.findall(r"<tr>((?:<td>[^<]*</td>)+)</tr>", table)
    ]


def test_report_of_a_run_on_the_stage_shows_its_points(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = stage_env(api, monkeypatch)
    out, page_path = tmp_path / "results", tmp_path / "report.html"
    # GIVEN a plain run of 6 points (3 x values, 2 repeats) that finished on the stage
    code, output = invoke("submit", sweep_file(tmp_path), *stage, "--watch")
    assert code == 0, output
    # WHEN its report is asked on the stage
    code, output = invoke("report", "remote-1", *stage, "--out", str(out), "--output", str(page_path), "--no-open")
    # THEN the run is downloaded (manifest, 3 points files, 3 outcomes) and the page written where asked
    assert code == 0, output
    assert "downloaded 7 changed objects of run remote-1" in output
    assert f"report written to {page_path}" in output.replace("\n", "")
    page = page_path.read_text()
    # AND its numbers are those of the rows the workers wrote to the bucket
    rows = bucket_points(api.stage, "remote-1")
    values: dict[str, list[float]] = {}
    for row in rows:
        assert row["status"] == "ok"
        values.setdefault(dict(row["params"])["x"], []).append(dict(row["metrics"])["value"])
    assert sorted(values) == ["0.1", "0.3", "0.5"]
    assert [len(v) for v in values.values()] == [2, 2, 2]
    header = header_cells(page)
    assert header["state"] == ("state-succeeded", "succeeded")
    assert header["points"][1] == f"{len(rows)} ok, 0 error, 0 not run"
    assert header["shards"][1] == "3 succeeded, 0 failed, 0 pending"
    every = [v for vs in values.values() for v in vs]
    best = max(values, key=lambda x: sum(values[x]) / len(values[x]))
    (summary,) = summary_rows(page)
    assert (summary["series"], summary["points"], summary["errors"]) == ("grid", "6", "0")
    assert float(summary["mean"]) == pytest.approx(sum(every) / len(every), rel=1e-3)
    assert float(summary["min"]) == pytest.approx(min(every), rel=1e-3)
    assert float(summary["max"]) == pytest.approx(max(every), abs=1e-9)
    assert summary["best_params"] == f"x={best}"
    assert float(summary["best_value"]) == pytest.approx(sum(values[best]) / 2, abs=1e-9)
    # AND one figure of the metrics against x, one of the spread of the repeats
    assert "metrics against <code>x</code>" in page
    assert page.count("<svg") == 2


def test_report_of_a_run_with_a_failed_shard_on_the_stage_says_so(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweep_contracts.outcomes import ErrorCode
    from sweep_orchestrator.failures import ShardFailure, record_failures

    stage = stage_env(api, monkeypatch)
    out = tmp_path / "results"
    # GIVEN a run on the stage whose shards 0 and 2 succeeded and whose shard 1 crashed
    assert invoke("submit", sweep_file(tmp_path), *stage)[0] == 0
    tasks = api.stage.invokes.take(WORKER)
    for task in (tasks[0], tasks[2]):
        api.stage.deliver(task)
    crashed = ShardFailure(1, 1, 1, ErrorCode.WORKER_CRASHED, "the worker's process died")
    record_failures(api.stage.store, "remote-1", [crashed], datetime.now(UTC))
    # WHEN its report is asked on the stage
    code, output = invoke("report", "remote-1", *stage, "--out", str(out), "--no-open")
    assert code == 0, output
    # THEN the header says what the stage's status says, as a local run's report does: the run is
    # partial (orange, not the success green), one shard failed, its 2 points did not run
    status = json.loads(invoke("status", "remote-1", *stage, "--json")[1])
    assert (status["state"], status["shards_failure"], status["points_not_run"]) == ("partial", 1, 2)
    header = header_cells((out / "report-remote-1.html").read_text())
    assert header["state"] == ("state-partial", "partial")
    assert header["shards"][1] == "2 succeeded, 1 failed, 0 pending"
    assert header["points"][1] == "4 ok, 0 error, 2 not run"


def test_report_of_a_run_the_stage_does_not_have_names_it_and_the_stage(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cloud import BUCKET

    stage = stage_env(api, monkeypatch)
    out = tmp_path / "results"
    # WHEN the report of a run the stage never had is asked
    result = runner.invoke(app, ["report", "no-such-run", *stage, "--out", str(out), "--no-open"])
    # THEN it is bad input (exit 2): one paragraph naming the run, the stage and its bucket, and
    # how to list the stage's runs; no traceback, nothing written
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert result.stderr == (
        f"error: the stage's bucket has no run `no-such-run`. Stage `dev` keeps its runs in bucket `{BUCKET}`.\n"
        "  hint: list the stage's runs with `sweep runs --stage dev`.\n"
    )
    assert not (out / "report-no-such-run.html").exists()


HOSTILE = "<script>alert(1)</script>\x1b]52;c;SGFja2Vk\x07\x1b[2J\u202eevil\u202c"
"""A value that would run a script in the page, write the clipboard, clear a terminal, reverse the reading order."""


def test_report_of_a_run_on_the_stage_escapes_hostile_text(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = stage_env(api, monkeypatch)
    out = tmp_path / "results"
    # GIVEN a run on the stage whose description and a swept value hold markup and control characters
    sweep = {
        "experiment": "synthetic",
        "run_id": "hostile-1",
        "description": f"about {HOSTILE}",
        "config": {"y": -0.2},
        "grid": {"x": [0.1, 0.3], "echo": [HOSTILE]},
    }
    (tmp_path / "hostile.json").write_text(json.dumps(sweep))
    code, output = invoke("submit", str(tmp_path / "hostile.json"), *stage, "--watch")
    assert code == 0, output
    # WHEN its report is asked on the stage
    result = runner.invoke(app, ["report", "hostile-1", *stage, "--out", str(out), "--no-open"])
    # THEN the page is written, the terminal gets nothing raw
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    page = (out / "report-hostile-1.html").read_text()
    # AND no tag of the value reaches the page, and no control character: each is shown as its
    # escape, in the description, the summary's best setting and the figures, as the figures did
    assert "<script" not in page
    for raw in ("\x1b", "\x07", "\u202e", "\u202c"):
        assert raw not in page, raw
    shown = "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b]52;c;SGFja2Vk\\x07\\x1b[2J\\u202eevil\\u202c"
    assert f"<p>about {shown}</p>" in page
    (summary,) = summary_rows(page)
    assert summary["best_params"] == f"echo={html.unescape(shown)}, x=0.3"
