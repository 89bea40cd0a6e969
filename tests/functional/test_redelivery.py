"""Lambda's own redelivery of a task whose execution died: the same event, so the same attempt.
The worker handler runs in forked processes, as Lambda's execution environments would, against a
moto server on loopback (state shared across processes, as S3 is); a point ends its process with
`os._exit`. The started marker tells the redelivery to isolate that point."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from sweep_aws.clients import s3_client
from sweep_aws.s3 import S3Store
from sweep_contracts import environment, layout
from sweep_worker import handler as worker
from tests.cloud import BUCKET, REGION, WORKER, LambdaContext
from tests.helpers import tasks_for, vouched_points_key

RUN = "redelivered-1"


@pytest.fixture
def store(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Store]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv(environment.STORE, f"s3://{BUCKET}")
    monkeypatch.delenv(environment.PARAMETER_PREFIX, raising=False)
    client = s3_client(region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    worker.reset()
    yield S3Store(BUCKET, client=client)
    worker.reset()
    server.stop()


def deliver(event: dict[str, Any], request_id: str, answer: Path) -> tuple[int, dict[str, Any] | None]:
    """Run the worker handler on `event` in a fresh process: (its exit code, the handler's result)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            worker.reset()  # a new execution environment: its own clients
            result = worker.handler(event, LambdaContext(function_name=WORKER, aws_request_id=request_id))
            answer.write_text(json.dumps(result))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code, json.loads(answer.read_text()) if code == 0 else None


def test_a_redelivered_shard_isolates_the_point_that_killed_its_first_execution(store: S3Store, tmp_path: Path) -> None:
    # GIVEN a 5-point shard whose point 2 ends its process
    points = [{"x": i, "crash": i == 2} for i in range(5)]
    event = tasks_for({"experiment": "synthetic", "config": {"y": 0.0}, "points": points}, RUN).event(0)
    # WHEN Lambda delivers it: the execution dies at point 2, leaving no outcome but its marker
    code, _ = deliver(event, "first", tmp_path / "first.json")
    assert code == 70
    assert list(store.list(layout.outcomes_prefix(RUN))) == []
    assert len(list(store.list(layout.started_prefix(RUN, 0)))) == 1
    # AND Lambda redelivers the same event (same attempt) to a new execution
    code, result = deliver(event, "second", tmp_path / "second.json")
    # THEN the redelivery survives: point 2 is a WORKER_CRASHED error row, the others ran once each
    assert code == 0, "the redelivery died at the same point"
    assert result is not None
    assert (result["status"], result["attempt"], result["points_ok"], result["points_failed"]) == ("success", 1, 4, 1)
    key = vouched_points_key(store, RUN, 0)
    assert key is not None
    written = pq.read_table(io.BytesIO(store.get(key) or b"")).to_pylist()
    assert [(r["point_index"], r["status"], r["error_type"]) for r in written] == [
        (0, "ok", None),
        (1, "ok", None),
        (2, "error", "WORKER_CRASHED"),
        (3, "ok", None),
        (4, "ok", None),
    ]
    # AND with the success recorded, no marker is left to make a later touch isolate
    assert list(store.list(layout.started_prefix(RUN))) == []


def test_a_first_delivery_leaves_no_marker_and_runs_unisolated(store: S3Store, tmp_path: Path) -> None:
    # GIVEN a shard without crashing points, delivered once
    event = tasks_for({"experiment": "synthetic", "config": {"y": 0.0}, "grid": {"x": [1, 2]}}, RUN).event(0)
    code, result = deliver(event, "only", tmp_path / "only.json")
    # THEN it succeeds and removes its marker
    assert (code, result and result["status"]) == (0, "success")
    assert list(store.list(layout.started_prefix(RUN))) == []
