"""Against a deployed stage (opt-in): `SWEEP_E2E_STAGE=dev make e2e`, with AWS credentials allowed to
invoke the stage's API and query its Athena workgroup. Endpoint and names come from the Pulumi
stack outputs (or SWEEP_API_URL, SWEEP_ATHENA_WORKGROUP, SWEEP_GLUE_DATABASE)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from sweep_cli.errors import RemoteError
from sweep_cli.files import load_sweep
from sweep_cli.stage import backend as stage_ops
from sweep_cli.stage.remote import StageClient
from sweep_cli.stage.resolve import resolve_stage

STAGE = os.environ.get("SWEEP_E2E_STAGE")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STAGE, reason="set SWEEP_E2E_STAGE=<stage> (and AWS credentials) to test a deployment"),
]
EXAMPLE = Path(__file__).parents[2] / "examples" / "maze.yaml"


@pytest.fixture(scope="module")
def client() -> StageClient:
    return StageClient(resolve_stage(STAGE, os.environ.get("SWEEP_API_URL"), os.environ.get("SWEEP_REGION")))


def unique(name: str) -> str:
    return f"e2e-{name}-{uuid.uuid4().hex[:8]}"


def test_the_example_runs_on_lambda_and_queries_in_athena(client: StageClient) -> None:
    payload = {**load_sweep(str(EXAMPLE)), "run_id": unique("maze")}
    answer = client.submit(payload)
    assert (answer["points"], answer["existing"]) == (320, False)
    status = stage_ops.watch(client, payload["run_id"], quiet=True)
    assert (status.state, status.points_ok) == ("succeeded", 320)
    summary = stage_ops.StageBackend(client, Path("unused")).summary(payload["run_id"], None)
    assert summary.metric == "efficiency"
    assert {row[0]: row[1] for row in summary.result.rows} == {"A-recall": 140, "B-strategy": 180}


def test_a_request_without_config_is_refused_by_the_stage(client: StageClient) -> None:
    with pytest.raises(RemoteError) as info:
        client.submit({"experiment": "maze", "run_id": unique("noconfig"), "grid": {"size": [9]}})
    assert (info.value.code, info.value.http_status) == ("MISSING_CONFIG", 400)


def test_a_crashing_worker_is_reconciled_into_an_outcome(client: StageClient) -> None:
    run_id = unique("crash")
    client.submit({"experiment": "synthetic", "run_id": run_id, "config": {"crash": True}, "grid": {"x": [1]}})
    deadline = time.monotonic() + 15 * 60  # Lambda retries an async event twice, minutes apart
    while time.monotonic() < deadline:
        status = stage_ops.as_status(client.status(run_id))
        if status.done:
            assert status.error_codes == {"WORKER_CRASHED": 1}
            return
        time.sleep(20)
    pytest.fail("the crash was not reconciled within 15 minutes")
