"""Issue 11, cost and time: `sweep plan FILE --stage dev` and the 202 answer state a run's expected
Lambda cost and makespan, and a stage refuses a run over its cost cap (`max_run_cost_usd`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts import environment
from sweep_contracts.errors import LimitExceededError
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.cost.queueing import Queue
from sweep_orchestrator.submit import submit_run
from tests.helpers import run_sweep, runtime_for

ROOT = Path(__file__).parents[2]
runner = CliRunner()
DEV_MB = 1769  # Pulumi.dev.yaml: sweep:worker.memoryMb


def sweep(points: int, **extra: Any) -> dict[str, Any]:
    return {
        "experiment": "synthetic",
        "run_id": "estimate-1",
        "config": {"y": 0.5},
        "grid": {"x": list(range(points))},
        "shard_size": 1,
        **extra,
    }


def plan(tmp_path: Path, body: dict[str, Any], *args: str) -> tuple[int, str]:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(body))
    result = runner.invoke(app, ["plan", str(path), "--stage", "dev", *args])
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def repository_stack_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment.PULUMI_DIR, str(ROOT))


def test_plan_on_dev_states_cost_and_makespan_from_the_given_time_per_point(tmp_path: Path) -> None:
    # GIVEN 200 one-point shards of 30 s each, and dev's stack config: 20 workers at 1,769 MB
    code, output = plan(tmp_path, sweep(200, expected_point_s=30), "--json")
    assert code == 0, output
    estimate = json.loads(output)["estimate"]
    # THEN 10 waves of 30 s, each started when Lambda next tries its throttled queue (0, 31, 63, 127,
    # 255, 511 s, then every 300 s; tests/unit/test_queue_model.py checks that against a simulation of
    # AWS's rules), not 300 s as if a freed worker took the next shard at once; 200 × 30 s × 1.7275
    # GB; 200 worker invokes and the submit; 3 PUTs a shard and the manifest and dispatch record;
    # Athena's 10 MB minimum for the summary; 2 LISTs a shard and 2 per status read of `--watch` (one at
    # submit, one every 3 s for 2,041 s: 682 reads); 0.3 s of INIT for each of the 20 workers' cold starts
    gb_s = 200 * 30 * DEV_MB / 1024
    init_gb_s = 20 * 0.3 * DEV_MB / 1024
    queue = Queue(200, 30.0, 20)
    assert {k: estimate[k] for k in ("shard_s", "shard_s_source", "concurrency", "makespan_s", "last_start_s")} == {
        "shard_s": 30.0,
        "shard_s_source": "expected_point_s",
        "concurrency": 20,
        "makespan_s": queue.makespan_s,
        "last_start_s": queue.last_start_s,
    }
    assert 1_711 <= queue.last_start_s <= 2_011
    assert {name: item["units"] for name, item in estimate["cost"].items()} == {
        "lambda_duration": gb_s,
        "lambda_requests": 201,
        "s3_puts": 602,
        "athena_summary": 10_000_000,
        "s3_lists": 200 * 2 + 682 * 2,
        "lambda_init": pytest.approx(init_gb_s),
    }
    assert estimate["cost_usd"] == pytest.approx(
        (gb_s + init_gb_s) * 13_333e-9 + 201 * 200e-9 + (602 + 1_764) * 5_000e-9 + 0.01 * 0.005
    )
    assert estimate["expired_shards"] == 0


def test_plan_refuses_a_run_over_the_cost_cap_with_the_numbers_and_the_fix(tmp_path: Path) -> None:
    # GIVEN dev with a $1 cap, and 1,000 shards of unknown time (each may run to dev's 300 s timeout)
    cap = tmp_path / "cap.yaml"
    cap.write_text("max_run_cost_usd: 1\n")
    # WHEN it is planned for dev
    code, output = plan(tmp_path, sweep(1000), "--settings", str(cap))
    # THEN exit 2, with the estimate, the cap's setting and what to do
    assert code == 2
    text = " ".join(output.split())
    # ($6.93 before the estimate billed LISTs and INIT: 2,000 workers' LISTs and ~15,000 of `--watch` over ~6.3 h)
    assert "the run's estimated cost $7.01 is over the stage's cap of $1 (`max_run_cost_usd`)" in text
    assert "1,000 shards × 300 s per shard (the worker's timeout `worker_timeout_s`" in text
    assert "this is an upper bound" in text
    assert "`sweep plan FILE --stage S --sample 5`" in text
    assert "pulumi config set --path sweep:settings.max_run_cost_usd N" in text


def test_plan_measures_the_time_per_point_with_a_local_sample(tmp_path: Path) -> None:
    # GIVEN points that sleep 200 ms each
    body = sweep(50, config={"y": 0.5, "sleep_ms": 200})
    # WHEN dev's plan samples three of them here
    code, output = plan(tmp_path, body, "--sample", "3", "--json")
    # THEN the estimate uses their measured time, not the worker's timeout
    assert code == 0, output
    estimate = json.loads(output[output.index("{") :])["estimate"]
    assert estimate["shard_s_source"] == "expected_point_s"
    assert 0.2 <= estimate["shard_s"] < 2.0


def test_submit_refuses_a_run_over_the_cap_naming_the_setting() -> None:
    # GIVEN a stage whose cap is $1
    settings = SystemSettings.resolve({"max_run_cost_usd": 1, "worker_timeout_s": 300}, source="ssm")
    rt, dispatcher = runtime_for(MemoryStore(), settings)
    # WHEN a run estimated at $6.94 is posted ($6.93 before LISTs and INIT were billed)
    with pytest.raises(LimitExceededError) as caught:
        submit_run(sweep(1000), rt)
    # THEN 413 naming the setting, the estimate and the cap; nothing dispatched
    body = caught.value.to_dict()
    assert (body["code"], body["field"], body["value"], body["limit"]) == (
        "LIMIT_EXCEEDED",
        "max_run_cost_usd",
        6.94,
        1,
    )
    assert caught.value.http_status == 413
    assert dispatcher.events == []


class CountingStore(MemoryStore):
    """Counts the writes a run makes: each is one S3 PUT on a stage."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        super().put(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.puts += 1
        return super().put_if_absent(key, data)


def test_the_estimated_puts_and_invokes_are_what_a_run_makes() -> None:
    # GIVEN a run of 12 shards, submitted and every shard run through the worker handler
    store = CountingStore()
    result, outcomes = run_sweep(sweep(12, expected_point_s=0.01), store)
    assert result.estimate is not None
    assert len(outcomes) == 12
    # THEN the estimate counted the same writes and worker invokes (+ the submit's own invocation)
    assert result.estimate.cost["s3_puts"].units == store.puts
    assert result.estimate.cost["lambda_requests"].units == len(outcomes) + 1


def test_a_local_plan_has_no_bill_and_no_cap(tmp_path: Path) -> None:
    # GIVEN a settings file with a $1 cap and the same 1,000 shards of unknown time
    cap = tmp_path / "cap.yaml"
    cap.write_text("max_run_cost_usd: 1\n")
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(sweep(1000)))
    # WHEN it is planned for this machine (no --stage): a process pool has no Lambda bill or invoke queue
    result = runner.invoke(app, ["plan", str(path), "--settings", str(cap), "--json"])
    # THEN it is not refused, and no estimate is made up for it
    assert result.exit_code == 0, result.output
    assert "estimate" not in json.loads(result.output)


def test_shards_longer_than_the_worker_timeout_are_submitted_with_a_warning() -> None:
    # GIVEN dev's 300 s timeout and shards of 10 points at 60 s each
    settings = SystemSettings.resolve({"worker_timeout_s": 300}, source="ssm")
    rt, _ = runtime_for(MemoryStore(), settings)
    body = {**sweep(40, expected_point_s=60), "shard_size": 10}
    # WHEN the run is submitted
    result, _ = submit_run(body, rt)
    # THEN it is accepted, the estimate bills the timeout, and the warning says what will happen and what to do
    assert result.estimate is not None
    assert (result.estimate.shard_s, result.estimate.unbounded_shard_s) == (300.0, 600.0)
    assert result.warnings == [
        "a shard of 10 points at `expected_point_s` takes about 600 s, over the worker's timeout of 300 s "
        "(`worker_timeout_s`): shards will stop with TIME_BUDGET before their last points; give a smaller "
        "`shard_size`."
    ]
