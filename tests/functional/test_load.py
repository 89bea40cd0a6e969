"""Load: many submissions at once, through the API handler on a stage (moto) and as local runs
into one results directory. Every run must pass the invariant checker. Figures: docs/reliability.md."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from sweep_aws.clients import s3_client
from sweep_aws.s3 import S3Store
from sweep_contracts.storage import LocalStore
from tests.cloud import BUCKET, REGION
from tests.helpers import assert_invariants

SUBMISSIONS = 100
LOCAL_RUNS = 20


def sweep(run_id: str, y: float) -> dict[str, Any]:
    return {
        "experiment": "synthetic",
        "run_id": run_id,
        "config": {"y": y},
        "grid": {"x": [0.0, 0.25, 0.5, 0.75]},
        "shard_size": 2,
    }


ENVIRONMENTS = 20
"""Lambda execution environments serving the submissions (5 each)."""


@pytest.fixture
def moto_server(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on loopback with the stage's bucket: shared by processes, as S3 is by Lambdas."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    s3_client(region_name=REGION).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.mark.long
def test_100_concurrent_submissions_through_the_handler(moto_server: str, tmp_path: Path) -> None:
    # The handler is not re-entrant, nor need it be: Lambda hands an execution environment one event
    # at a time, and Powertools' resolver keeps the request in a class attribute
    # (`BaseRouter.current_event`). 32 threads calling it in one process answered one request with
    # another's run (load-000 got load-001's 202, and nothing wrote load-000's manifest), so each
    # concurrent environment is a process here.
    # GIVEN 100 distinct sweeps, each with its own config, spread over 20 execution environments
    # (processes, each serving its requests one at a time, as Lambda does) sharing one moto server
    payloads = [sweep(f"load-{i:03d}", i / 100) for i in range(SUBMISSIONS)]
    shares = [payloads[i::ENVIRONMENTS] for i in range(ENVIRONMENTS)]
    for i, share in enumerate(shares):
        (tmp_path / f"in-{i}.json").write_text(json.dumps(share))
    # WHEN they all submit at once, then deliver the shard tasks they dispatched
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.functional.load_environment",
                str(tmp_path / f"in-{i}.json"),
                str(tmp_path / f"out-{i}.json"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(ENVIRONMENTS)
    ]
    codes = [p.wait(timeout=900) for p in procs]
    elapsed = time.perf_counter() - started
    assert codes == [0] * ENVIRONMENTS, [p.stderr.read()[-2000:] if p.stderr else b"" for p in procs]
    answers = [a for i in range(ENVIRONMENTS) for a in json.loads((tmp_path / f"out-{i}.json").read_text())]
    requested = [p["run_id"] for share in shares for p in share]
    # THEN every submission was accepted as a new run of its own, every run has its manifest, and
    # every run passes the checker: no config bleed, no lost shard
    assert [status for status, _ in answers] == [202] * SUBMISSIONS
    assert [(body["run_id"], body["existing"]) for _, body in answers] == [(r, False) for r in requested]
    store = S3Store(BUCKET, client=s3_client(region_name=REGION))
    manifests = sum(1 for key in store.list("runs/") if key.endswith("/manifest.json"))
    assert manifests == SUBMISSIONS
    rows = sum(assert_invariants(store, p["run_id"]).rows_checked for p in payloads)
    assert rows == 4 * SUBMISSIONS
    print(
        f"\nLOAD handler: {SUBMISSIONS} submissions from {ENVIRONMENTS} environments in {elapsed:.1f} s: "
        f"{SUBMISSIONS} x 202, {manifests} manifests, {rows} rows checked, 0 violations"
    )


@pytest.mark.long
def test_20_concurrent_local_runs_into_one_directory(tmp_path: Path) -> None:
    out = tmp_path / "results"
    files = []
    for i in range(LOCAL_RUNS):
        path = tmp_path / f"s{i}.json"
        path.write_text(json.dumps(sweep(f"local-{i:02d}", i / 10)))
        files.append(path)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sweep_cli", "run", str(f), "--out", str(out), "--workers", "1", "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for f in files
    ]
    codes = [p.wait(timeout=600) for p in procs]
    elapsed = time.perf_counter() - started
    assert codes == [0] * LOCAL_RUNS, [p.stderr.read() if p.stderr else b"" for p in procs]
    store = LocalStore(out)
    rows = sum(assert_invariants(store, f"local-{i:02d}").rows_checked for i in range(LOCAL_RUNS))
    assert rows == 4 * LOCAL_RUNS
    print(
        f"\nLOAD local: {LOCAL_RUNS} concurrent `sweep run` into one directory in {elapsed:.1f} s, {rows} rows, 0 violations"
    )
