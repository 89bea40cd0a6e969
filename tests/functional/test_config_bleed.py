"""The Parameter Store race of docs/seeds/atomic-config-in-event.md, replayed: twelve experiments
triggered at once, each with its own config. In the original system they read config from SSM
after later triggers had overwritten it, and all twelve recorded the same config. Here the config
travels in every event, so each run — manifest and every point row — carries exactly its own."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from tests.cloud import BUCKET, PREFIX, Stage

# Series A: context window; B: temperature; C: repeat penalty — as in the seed study.
SERIES = (
    [("a", 2048, 0.2, 1.4), ("a", 8192, 0.2, 1.4), ("a", 32768, 0.2, 1.4)]
    + [("b", 32768, t, 1.4) for t in (0.0, 0.1, 0.2, 0.5, 0.7, 1.0)]
    + [("c", 32768, 0.2, p) for p in (1.0, 1.2, 1.6)]
)


def request(i: int, series: str, num_ctx: int, temperature: float, penalty: float) -> dict[str, Any]:
    # synthetic's x/y carry the "model settings"; the run's identity is in its config
    return {
        "experiment": "synthetic",
        "run_id": f"series-{series}-{i:02d}",
        "config": {"x": temperature, "y": penalty, "noise": num_ctx / 1e6},
        "grid": {"seed": list(range(6))},
        "shard_size": 2,
    }


@pytest.mark.slow
def test_parallel_submissions_each_keep_their_own_config(stage: Stage) -> None:
    requests = [request(i, *s) for i, s in enumerate(SERIES)]
    barrier = threading.Barrier(len(requests) + 1)

    def submit(payload: dict[str, Any]) -> tuple[int, Any]:
        barrier.wait()
        return stage.call("POST", "/runs", payload)

    def meddle() -> None:
        # meanwhile, someone keeps rewriting the stage's parameters (the old, shared-state way)
        barrier.wait()
        for value in ("2048", "8192", "32768") * 3:
            stage.ssm.put_parameter(Name=PREFIX + "num_ctx", Value=value, Type="String", Overwrite=True)

    # WHEN all twelve are submitted at the same instant, in parallel threads
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        meddler = pool.submit(meddle)
        answers = list(pool.map(submit, requests))
        meddler.result()
    assert [status for status, _ in answers] == [202] * 12
    # AND every task runs, concurrently, interleaved across runs
    tasks = stage.invokes.take()
    assert len(tasks) == 12 * 3
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(stage.deliver, tasks[::-1]))
    assert {o["status"] for o in outcomes} == {"success"}
    # THEN each manifest, each task and each point row carries exactly its own config
    for payload in requests:
        run_id, config = payload["run_id"], payload["config"]
        manifest = RunManifest.from_json(stage.store.get(layout.manifest_key(run_id)) or b"")
        assert manifest.request.config == config
        assert all(t["config"] == config for t in tasks if t["run_id"] == run_id)
        rows = []
        for key in stage.object_keys(layout.points_prefix(run_id)):
            data = stage.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            rows += pq.read_table(io.BytesIO(data)).to_pylist()
        assert len(rows) == 6
        for row in rows:
            effective = json.loads(row["config_json"])
            assert {k: effective[k] for k in config} == config, (run_id, effective)

    # AND the runs recorded as many distinct configs as were requested — 11, since the study's A3
    # and B3 are the same baseline (the seed's bug recorded one)
    def recorded(run_id: str) -> str:
        manifest = RunManifest.from_json(stage.store.get(layout.manifest_key(run_id)) or b"")
        return json.dumps(manifest.request.config, sort_keys=True)

    assert len({recorded(p["run_id"]) for p in requests}) == 11
