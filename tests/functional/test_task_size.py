"""Accepted but unrunnable: a request within `max_request_bytes` can re-encode into shard tasks
over what an async Lambda invoke carries (`1e15` is sent as `1000000000000000.0`). The size that
is checked is the encoded size of the largest task, identically by `sweep plan` and `POST /runs`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts import layout
from tests.cloud import WORKER, Stage

LIMIT = 65_536
# 4,000 distinct values like 1e12 and 4000e12: 30 KB as written, ~76 KB as re-encoded (4000000000000000.0)
VALUES = ", ".join(f"{i}e12" for i in range(1, 4001))
BODY = f'{{"experiment": "synthetic", "run_id": "big-1", "config": {{"y": 0.5}}, "grid": {{"x": [{VALUES}]}}}}'


def test_the_api_refuses_a_request_whose_tasks_would_be_too_large(stage: Stage) -> None:
    # GIVEN a stage whose tasks may be at most 64 KiB, and a 30 KB request (under max_request_bytes)
    stage.put_setting("max_task_bytes", str(LIMIT))
    assert len(BODY) < 131_072
    # WHEN it is submitted
    status, body = stage.call("POST", "/runs", raw_body=BODY)
    # THEN it is refused up front, naming the limit and the fix; nothing is written or sent
    assert status == 413
    assert (body["code"], body["field"], body["limit"]) == ("LIMIT_EXCEEDED", "request", LIMIT)
    assert body["value"] > LIMIT
    assert "(`max_task_bytes`)" in body["message"]
    assert "1e15 becomes 1000000000000000.0" in body["hint"]
    assert stage.object_keys(layout.manifest_key("big-1")) == []
    assert stage.invokes.take(WORKER) == []


def test_sweep_plan_refuses_the_same_file_with_the_same_numbers(tmp_path: Path, stage: Stage) -> None:
    stage.put_setting("max_task_bytes", str(LIMIT))
    api = stage.call("POST", "/runs", raw_body=BODY)[1]
    (tmp_path / "sweep.json").write_text(BODY)
    (tmp_path / "settings.yaml").write_text(f"max_task_bytes: {LIMIT}\n")
    result = CliRunner().invoke(
        app, ["plan", str(tmp_path / "sweep.json"), "--settings", str(tmp_path / "settings.yaml")]
    )
    assert result.exit_code == 2
    assert f"shard tasks encode to {api['value']:,} bytes" in result.output
    assert json.dumps(api["limit"]) == str(LIMIT)


def test_a_request_whose_tasks_fit_is_accepted(stage: Stage) -> None:
    stage.put_setting("max_task_bytes", str(LIMIT))
    small = BODY.replace(VALUES, ", ".join(f"{i}e12" for i in range(1, 101)))
    assert stage.call("POST", "/runs", raw_body=small)[0] == 202
