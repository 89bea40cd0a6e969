"""Issue 22, item 6: tiny shards on Lambda. A run of shards under ~5 s that queue past the workers, or
pass S3's per-prefix request rates, is warned about by `sweep plan --stage` and at submit (the 202's
`warnings`), with the figures and the fix; the estimate bills the S3 LISTs a run makes and the
INIT of its cold starts. The LISTs are counted on the S3 client of a moto stage (botocore events)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_cli.stage import backend as stage_ops
from sweep_contracts import environment
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.cost.estimate import READS_PER_SHARD, STATUS_POLL_S, WRITES_PER_SHARD
from sweep_orchestrator.cost.queueing import Queue
from sweep_orchestrator.submit import submit_run
from tests.cloud import Stage
from tests.helpers import runtime_for

ROOT = Path(__file__).parents[2]
runner = CliRunner()
DEV_MB = 1769  # Pulumi.dev.yaml: sweep:worker.memoryMb
INIT_S = 0.3  # bench/RESULTS.md (f): `import sweep_worker.handler` 294 ms


@pytest.fixture(autouse=True)
def repository_stack_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment.PULUMI_DIR, str(ROOT))


def sweep(points: int, point_s: float, run_id: str = "tiny-1") -> dict[str, Any]:
    return {
        "experiment": "synthetic",
        "run_id": run_id,
        "config": {"y": 0.5},
        "grid": {"x": list(range(points))},
        "shard_size": 1,
        "expected_point_s": point_s,
    }


def plan_on_dev(tmp_path: Path, body: dict[str, Any], settings: str) -> dict[str, Any]:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(body))
    overrides = tmp_path / "settings.yaml"
    overrides.write_text(settings)
    result = runner.invoke(app, ["plan", str(path), "--stage", "dev", "--settings", str(overrides), "--json"])
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


TINY_WARNING = (
    "10,000 shards × 1 s per shard (`expected_point_s` × points per shard) through 1,000 concurrent workers "
    "(`worker_concurrency`): shards under 5 s carry Lambda's and S3's overheads per shard. Lambda tries a "
    "throttled queue again only at 1, 3, 7, … 511 s and then every 300 s, so the run takes about 812 s for 10 s "
    "of work per worker (busy 1.2% of it); S3 requests, invokes and cold starts (each cold start bills about "
    "0.3 s of INIT) cost $0.29 of its $0.52 (55%); 1,000 workers send about 5,000 PUT/DELETE and 3,000 GET/LIST "
    "requests a second to the run's S3 keys, and S3 serves 3,500 and 5,500 a second per partitioned prefix, "
    "answering 503 SlowDown while it splits a busy one. Give a larger `shard_size`: 10 points a shard take about 10 s (1,000 shards); or run it on this "
    "machine with `sweep run FILE`, whose local engine has no queue, invoke or S3 request per shard."
)


def test_plan_warns_about_ten_thousand_one_second_shards_at_a_thousand_workers_issue_22(tmp_path: Path) -> None:
    # GIVEN dev's stack config with 1,000 workers, and 10,000 one-point shards of 1 s
    answer = plan_on_dev(tmp_path, sweep(10_000, 1.0), "worker_concurrency: 1000\nmax_shards: 10000\n")
    estimate = answer["estimate"]
    # THEN the queue drains one wave per try of Lambda's throttled queue: 10 waves by 811 s, not 10 s
    assert (estimate["makespan_s"], estimate["last_start_s"]) == (812.0, 811.0)
    # AND the estimate bills two LISTs a shard, and 2 LISTs per 1,000 shards per status read of `--watch`
    # (one at submit, one every 3 s for 812 s: 272 reads), and 0.3 s of INIT for each of 1,000 cold workers
    lists, init = estimate["cost"]["s3_lists"], estimate["cost"]["lambda_init"]
    assert (lists["units"], lists["unit"]) == (10_000 * 2 + 272 * 2 * 10, "LISTs")
    assert lists["usd"] == pytest.approx(25_440 * 5_000e-9)
    assert (init["units"], init["unit"]) == (pytest.approx(1_000 * INIT_S * DEV_MB / 1024), "GB-s")
    assert init["usd"] == pytest.approx(1_000 * INIT_S * DEV_MB / 1024 * 13_333e-9)
    # AND the plan warns, with the shard time, what it costs in wall time, money and S3 rate, and the fix
    assert answer["warnings"] == [TINY_WARNING]


def test_submit_answers_the_tiny_shard_warning_issue_22() -> None:
    # GIVEN a stage with 1,000 workers
    settings = SystemSettings.resolve(
        {"worker_concurrency": 1000, "max_shards": 10_000, "worker_timeout_s": 300, "worker_memory_mb": DEV_MB},
        source="ssm",
    )
    rt, dispatcher = runtime_for(MemoryStore(), settings)
    # WHEN 10,000 one-second shards are submitted
    result, _ = submit_run(sweep(10_000, 1.0), rt)
    # THEN the run is accepted and dispatched, and its 202 carries the warning
    assert (result.dispatched + result.delegated, result.warnings) == (10_000, [TINY_WARNING])
    assert len(dispatcher.events) == 10_000


@pytest.mark.parametrize("workers", [1000, 20])
def test_no_warning_for_two_hundred_shards_of_a_minute_issue_22(tmp_path: Path, workers: int) -> None:
    # GIVEN 200 shards of 60 s on dev, with 1,000 workers or dev's own 20
    answer = plan_on_dev(tmp_path, sweep(200, 60.0), f"worker_concurrency: {workers}\n")
    # THEN no warning, and INIT is billed for the workers the run starts: 200 at 1,000 workers, 20 at 20
    assert answer["warnings"] == []
    cold = min(200, workers)
    assert answer["estimate"]["cost"]["lambda_init"]["units"] == pytest.approx(cold * INIT_S * DEV_MB / 1024)
    reads = 1 + math.ceil(Queue(200, 60.0, workers).makespan_s / 3)
    assert answer["estimate"]["cost"]["s3_lists"]["units"] == 200 * 2 + reads * 2


def test_few_tiny_shards_within_the_workers_are_not_warned_about_issue_22(tmp_path: Path) -> None:
    # GIVEN 12 shards of 10 ms on 1,000 workers: one wave, 60 writes to S3 in all
    answer = plan_on_dev(tmp_path, sweep(12, 0.01), "worker_concurrency: 1000\n")
    # THEN nothing to warn about: no queue, no S3 flood
    assert answer["warnings"] == []


def test_the_estimated_lists_are_what_a_run_makes_on_s3_issue_22(stage: Stage) -> None:
    # GIVEN S3 requests counted on the stage's client, by class
    seen: list[str] = []

    def count(request: AWSPreparedRequest, **_: object) -> None:
        seen.append("LIST" if "list-type=2" in request.url else request.method)

    stage.s3.meta.events.register("before-send.s3", count)
    # WHEN a 12-shard run is submitted, every shard runs through the worker handler, and its status is read
    status, answer = stage.call("POST", "/runs", sweep(12, 0.01, "lists-1"))
    assert status == 202, answer
    seen.clear()
    assert [r["status"] for r in stage.run_all()] == ["success"] * 12
    workers = Counter(seen)
    seen.clear()
    assert stage.call("GET", "/runs/lists-1")[0] == 200
    one_status_read = Counter(seen)["LIST"]
    # THEN each shard listed twice, and a status read of a run under 1,000 shards lists twice
    assert (workers["LIST"], one_status_read) == (12 * 2, 2)
    # AND the estimate bills those LISTs: the workers', and one status read at submit and every poll of `--watch`
    assert STATUS_POLL_S == stage_ops.POLL_S
    makespan = answer["estimate"]["makespan_s"]
    reads = 1 + math.ceil(makespan / stage_ops.POLL_S)
    assert answer["estimate"]["cost"]["s3_lists"]["units"] == workers["LIST"] + reads * one_status_read
    # AND the per-shard S3 traffic the warning's request rate uses is what the shards sent
    assert (workers["PUT"] + workers["DELETE"], workers["GET"] + workers["LIST"]) == (
        12 * WRITES_PER_SHARD,
        12 * READS_PER_SHARD,
    )
