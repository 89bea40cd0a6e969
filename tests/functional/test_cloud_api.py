"""The orchestrator and worker handlers against moto: real HTTP API v2 events, captured invokes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.points import PointSpace
from sweep_contracts.request import MISSING_CONFIG_HINT, parse_request
from sweep_orchestrator.dispatched import DispatchRecord
from sweep_orchestrator.openapi import openapi_document
from tests.cloud import BUCKET, ORCHESTRATOR, PREFIX, WORKER, Stage

SWEEP: dict[str, Any] = {
    "experiment": "maze",
    "run_id": "cloud-1",
    "config": {"size": 9, "max_moves": 400},
    "grids": [
        {"name": "A", "axes": {"recall_interval": [1, 20]}},
        {"name": "B", "axes": {"strategy": ["wall-follower", "random-walk", "dfs-recall"]}},
    ],
    "repeats": 2,
    "shard_size": 3,
}


def test_a_sweep_runs_end_to_end_through_the_handlers(stage: Stage) -> None:
    # GIVEN a stage whose SSM says max_points 5000 (version 1)
    stage.put_setting("max_points", "5000")
    # WHEN a sweep is posted through the HTTP API
    status, body = stage.call("POST", "/runs", SWEEP)
    # THEN it is accepted with its size, its estimate and where to follow it
    estimate = body.pop("estimate")
    assert (status, body) == (
        202,
        {
            "run_id": "cloud-1",
            "points": 10,
            "shards": 4,
            "shard_size": 3,
            "existing": False,
            "dispatched": 4,
            "delegated": 0,
            "dispatch_failed": 0,
            "warnings": [],
            "status_url": "https://id.execute-api.us-east-1.amazonaws.com/runs/cloud-1",
        },
    )
    # AND the estimate: no time per point given, so 4 shards until the default 900 s timeout at 1,769 MB
    assert (estimate["shard_s_source"], estimate["makespan_s"], estimate["expired_shards"]) == (
        "worker_timeout_s",
        900.0,
        0,
    )
    gb_s = 4 * 900 * 1769 / 1024
    assert estimate["cost"]["lambda_duration"] == {
        "units": gb_s,
        "unit": "GB-s",
        "usd": pytest.approx(gb_s * 13_333e-9),
    }
    # AND one async worker invoke per shard, each carrying the config
    tasks = sorted((payload for _, payload in stage.invokes.calls), key=lambda t: t["shard_id"])
    assert {function for function, _ in stage.invokes.calls} == {WORKER}
    assert [(t["shard_id"], t["start"], t["stop"], t["config"]) for t in tasks] == [
        (0, 0, 3, SWEEP["config"]),
        (1, 3, 6, SWEEP["config"]),
        (2, 6, 9, SWEEP["config"]),
        (3, 9, 10, SWEEP["config"]),
    ]
    # AND the manifest records the settings with their source and SSM version
    manifest = RunManifest.from_json(stage.store.get(layout.manifest_key("cloud-1")) or b"")
    assert manifest.settings["max_points"] == {"value": 5000, "source": "ssm", "version": 1}
    assert manifest.settings["max_shards"] == {"value": 10_000, "source": "default"}
    # WHEN every captured invoke runs through the worker handler against S3
    assert [r["status"] for r in stage.run_all()] == ["success"] * 4
    # THEN GET /runs/{id} reports the run succeeded
    status, body = stage.call("GET", "/runs/cloud-1")
    assert status == 200
    assert {k: body[k] for k in ("state", "shards_success", "points_ok", "points_error", "missing_shards")} == {
        "state": "succeeded",
        "shards_success": 4,
        "points_ok": 10,
        "points_error": 0,
        "missing_shards": [],
    }
    assert body["plan"]["series"] == [
        {"name": "A", "first_index": 0, "size": 4},
        {"name": "B", "first_index": 4, "size": 6},
    ]
    # AND the Parquet in S3 holds exactly the requested points with their effective configs
    request = parse_request(SWEEP)
    space = PointSpace(request, request.config)
    rows = []
    for key in stage.object_keys("points/run_id=cloud-1/"):
        data = stage.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        rows += pq.read_table(io.BytesIO(data)).to_pylist()
    rows.sort(key=lambda r: r["point_index"])
    expected = [space.effective_config(space.point(i)) for i in range(space.size)]
    assert [json.loads(r["config_json"]) for r in rows] == expected
    assert [r["series"] for r in rows] == ["A"] * 4 + ["B"] * 6


def test_resubmitting_answers_with_the_existing_run_and_other_content_conflicts(stage: Stage) -> None:
    assert stage.call("POST", "/runs", SWEEP)[0] == 202
    stage.invokes.take()
    status, body = stage.call("POST", "/runs", SWEEP)
    assert (status, body["existing"], stage.invokes.calls) == (202, True, [])
    status, body = stage.call("POST", "/runs", {**SWEEP, "repeats": 3})
    assert (status, body["code"], body["field"]) == (409, "RUN_CONFLICT", "run_id")


@pytest.mark.parametrize(
    ("body", "raw", "status", "expected"),
    [
        (
            {"experiment": "maze", "grid": {"size": [9]}},
            None,
            400,
            {
                "code": "MISSING_CONFIG",
                "message": "`config` is missing; every sweep needs its experiment config.",
                "field": "config",
                "hint": MISSING_CONFIG_HINT,
            },
        ),
        (
            {"experiment": "maze", "config": {}},
            None,
            400,
            {
                "code": "MISSING_CONFIG",
                "message": "`config` is empty; every sweep needs its experiment config.",
                "field": "config",
                "value": {},
                "hint": MISSING_CONFIG_HINT,
            },
        ),
        (
            None,
            '{"experiment": "maze",',
            400,
            {
                "code": "INVALID_REQUEST",
                "field": "body",
                "message": "the request body is not JSON: Expecting property name enclosed in double quotes at line 1, "
                "column 23.",
                "hint": "send the sweep as a JSON object with Content-Type: application/json.",
            },
        ),
        (
            {**SWEEP, "experiment": "maize"},
            None,
            400,
            {
                "code": "UNKNOWN_EXPERIMENT",
                "field": "experiment",
                "value": "maize",
                "message": "experiment `maize` is not registered; did you mean `maze`?",
                "hint": "registered experiments: llm-maze, maze, ollama, openai-chat, synthetic. Install a package that registers it under the "
                "`sweep.experiments` entry point group.",
            },
        ),
        (
            {**SWEEP, "config": {"size": 9, "max_moves": 0}},
            None,
            400,
            {
                "code": "INVALID_EXPERIMENT_CONFIG",
                "field": "config.max_moves",
                "value": 0,
                "message": "`config.max_moves`: input should be greater than or equal to 1; got 0 (experiment `maze`).",
                "hint": "see the `maze` config fields with `sweep experiments maze`.",
                "problems": [
                    {
                        "field": "config.max_moves",
                        "message": "input should be greater than or equal to 1; got 0",
                        "value": 0,
                    }
                ],
            },
        ),
        (
            {**SWEEP, "repeats": 200_000},
            None,
            413,
            {
                "code": "LIMIT_EXCEEDED",
                "field": "points",
                "value": 1_000_000,
                "limit": 5000,
                "message": "the sweep has 1,000,000 points, over the limit of 5,000.",
                "hint": "split it into several runs (fewer axis values or repeats), or raise `max_points` in the stage "
                "settings.",
            },
        ),
    ],
)
def test_bad_requests_get_json_errors_and_leave_nothing(
    stage: Stage, body: Any, raw: str | None, status: int, expected: dict[str, Any]
) -> None:
    stage.put_setting("max_points", "5000")
    answer = stage.call("POST", "/runs", body, raw_body=raw)
    assert answer == (status, expected)
    assert stage.object_keys() == []
    assert stage.invokes.calls == []


def test_a_request_over_the_byte_cap_is_413_naming_it(stage: Stage) -> None:
    stage.put_setting("max_request_bytes", "2000")
    big = {**SWEEP, "description": "x" * 1990}
    status, body = stage.call("POST", "/runs", big)
    assert (status, body["code"], body["field"], body["limit"]) == (413, "LIMIT_EXCEEDED", "request", 2000)
    assert stage.object_keys() == []


def test_get_settings_shows_values_sources_and_versions(stage: Stage) -> None:
    stage.put_setting("shard_size", "50")
    stage.put_setting("shard_size", "40")
    status, body = stage.call("GET", "/settings")
    assert status == 200
    assert (body["stage"], body["parameter_prefix"], body["cache_ttl_s"]) == ("test", PREFIX, 300)
    assert body["settings"]["shard_size"] == {"value": 40, "source": "ssm", "version": 2}
    assert body["settings"]["max_points"] == {"value": 1_000_000, "source": "default"}


def test_unknown_runs_and_routes_are_404_json(stage: Stage) -> None:
    assert stage.call("GET", "/runs/no-such-run")[1]["code"] == "RUN_NOT_FOUND"
    assert stage.call("GET", "/runs/NOT_AN_ID")[0] == 404
    status, body = stage.call("DELETE", "/runs")
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert "POST /runs" in body["hint"]


def test_get_runs_lists_newest_first(stage: Stage) -> None:
    for run_id in ("first-run", "second-run"):
        stage.call("POST", "/runs", {**SWEEP, "run_id": run_id})
    status, body = stage.call("GET", "/runs?limit=5")
    assert status == 200
    assert {r["run_id"] for r in body} == {"first-run", "second-run"}
    assert body[0]["created_at"] >= body[1]["created_at"]
    status, body = stage.call("GET", "/runs?limit=0")
    assert (status, body["code"], body["field"]) == (400, "INVALID_REQUEST", "limit")
    assert body["message"] == "`limit`: input should be greater than or equal to 1."


def test_retry_route_redispatches_only_failed_and_overdue_shards(stage: Stage) -> None:
    # GIVEN a run whose first shard ran; the other three are in flight, not overdue
    stage.call("POST", "/runs", SWEEP)
    tasks = stage.invokes.take(WORKER)
    stage.deliver(tasks[0])
    # WHEN it is retried THEN nothing is sent: a second copy would only race the running ones
    status, body = stage.call("POST", "/runs/cloud-1/retry")
    assert (status, body) == (
        202,
        {
            "run_id": "cloud-1",
            "failed": 0,
            "missing": 0,
            "running": 3,
            "dispatched": 0,
            "delegated": 0,
            "dispatch_failed": 0,
        },
    )
    assert stage.invokes.take(WORKER) == []
    # AND once the shards are overdue (dispatched long ago), the retry sends them again
    old = datetime(2020, 1, 1, tzinfo=UTC)
    stage.store.put(
        layout.dispatch_key("cloud-1"), DispatchRecord(dispatched_at=old, shards=4).model_dump_json().encode()
    )
    assert stage.call("POST", "/runs/cloud-1/retry")[1]["missing"] == 3
    assert sorted((p["shard_id"], p["attempt"]) for p in stage.invokes.take(WORKER)) == [(1, 2), (2, 2), (3, 2)]


def test_openapi_document_in_the_repo_is_up_to_date() -> None:
    from pathlib import Path

    committed = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    regenerate = "regenerate: uv run python -m sweep_orchestrator.openapi > docs/openapi.json"
    assert committed == openapi_document(), regenerate
    assert set(committed["paths"]) == {
        "/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/retry",
        "/settings",
        "/settings/{name}",
    }
    assert committed["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_every_error_answer_of_every_route_is_documented_with_the_error_body() -> None:
    # GIVEN the OpenAPI document of the API (the one committed is checked equal to it above)
    document = openapi_document()
    # WHEN every 4xx response of every route is collected
    errors = {
        f"{method.upper()} {path} {status}": response
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("4")
    }
    # THEN each has the ErrorBody schema every error is answered with, and none is a 422 (parameter
    # validation is answered as a 400)
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    assert {name: r.get("content") for name, r in errors.items() if r.get("content") != body} == {}
    assert "PUT /settings/{name} 400" in errors
    assert "GET /runs 400" in errors
    assert not [name for name in errors if name.endswith(" 422")]


def test_the_orchestrator_is_self_invoked_only_for_large_runs(stage: Stage) -> None:
    stage.call("POST", "/runs", SWEEP)
    assert ORCHESTRATOR not in stage.invokes.attempts
