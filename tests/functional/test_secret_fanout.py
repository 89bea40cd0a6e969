"""Secrets at fan-out (issue 22, item 5): Parameter Store serves 40 reads a second by default, and
Lambda starts up to 1,000 cold workers of a run at once, each reading its experiment's secret. A run
that would start more than 40 TPS serves in 10 s is warned about at submit, unless the stage has
Parameter Store's higher throughput on, whose price then shows in the run estimate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts import environment
from sweep_contracts.binding import SecretBinding
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.submit import submit_run
from tests.helpers import runtime_for

ENDPOINT = "https://api.example.com"
ROOT = Path(__file__).parents[2]
runner = CliRunner()


def stage_settings(**values: int) -> SystemSettings:
    """A stage whose `api_key` may go to ENDPOINT (as its settings admin set it)."""
    settings = SystemSettings.resolve(values, source="ssm")
    return settings.model_copy(update={"secret_bindings": {"api_key": SecretBinding(endpoints=(ENDPOINT,))}})


def llm_run(shards: int, **extra: Any) -> dict[str, Any]:
    return {
        "experiment": "openai-chat",
        "run_id": "fanout-1",
        "config": {"endpoint": ENDPOINT, "model": "m", "tasks": "arithmetic"},
        "repeats": shards,
        "shard_size": 1,
        "expected_point_s": 30,
        **extra,
    }


def submit(payload: dict[str, Any], settings: SystemSettings) -> Any:
    rt, _ = runtime_for(MemoryStore(), settings)
    result, _ = submit_run(payload, rt)
    return result


FANOUT_WARNING = (
    "experiment `openai-chat` reads 1 secret (`api_key`) in each cold worker: this run starts "
    "1,000 workers (min of its 2,000 shards and `worker_concurrency` 1,000), 1,000 Parameter Store reads, and "
    "Lambda starts up to 1,000 workers at once (1,000 more every 10 s), but Parameter Store serves 40 reads a "
    "second by default, 400 in 10 s: the rest are throttled, wait out retries from the shard's time budget "
    "and may fail with SECRET_UNAVAILABLE. Fix: turn on Parameter Store's higher throughput for the account "
    "(`aws ssm update-service-setting --setting-id arn:aws:ssm:REGION:ACCOUNT:servicesetting/ssm/"
    "parameter-store/high-throughput-enabled --setting-value true`, then the stage setting "
    "`ssm_high_throughput: 1`; billed $0.05 per 10,000 API interactions), or run at most 400 workers at once "
    "(`worker_concurrency`, or a run of at most 400 shards)."
)


def test_a_wide_llm_run_is_warned_that_parameter_store_cannot_serve_its_cold_starts() -> None:
    # GIVEN a stage that runs 1,000 workers at once and an LLM run of 2,000 one-point shards
    result = submit(llm_run(2_000), stage_settings(worker_concurrency=1_000))
    # THEN it is accepted with the warning, naming the figures and both fixes
    assert result.shards == 2_000
    assert FANOUT_WARNING in result.warnings
    assert "ssm_high_throughput" not in result.estimate.cost


def test_with_high_throughput_on_there_is_no_warning_and_the_estimate_bills_it() -> None:
    result = submit(llm_run(2_000), stage_settings(worker_concurrency=1_000, ssm_high_throughput=1))
    assert not any("Parameter Store" in w for w in result.warnings)
    # 1,000 cold workers × 1 secret, at $0.05 per 10,000
    item = result.estimate.cost["ssm_high_throughput"]
    assert (item.units, item.unit) == (1_000, "API interactions")
    assert abs(item.usd - 0.005) < 1e-12
    others = sum(i.usd for name, i in result.estimate.cost.items() if name != "ssm_high_throughput")
    assert abs(result.estimate.cost_usd - (others + item.usd)) < 1e-9


def test_a_run_within_what_40_tps_serves_is_not_warned() -> None:
    # 400 cold workers in 10 s: what 40 reads a second serve
    result = submit(llm_run(2_000), stage_settings(worker_concurrency=400))
    assert not any("Parameter Store" in w for w in result.warnings)
    result = submit(llm_run(400), stage_settings(worker_concurrency=1_000))
    assert not any("Parameter Store" in w for w in result.warnings)


def test_an_experiment_without_secrets_is_not_warned() -> None:
    payload = {"experiment": "synthetic", "run_id": "fanout-2", "config": {"y": 0.5}, "grid": {"x": list(range(2_000))}}
    result = submit({**payload, "shard_size": 1, "expected_point_s": 1}, stage_settings(worker_concurrency=1_000))
    assert not any("Parameter Store" in w for w in result.warnings)


def plan_on_prod(tmp_path: Path, *args: str) -> dict[str, Any]:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(llm_run(2_000)))
    result = runner.invoke(app, ["plan", str(path), "--stage", "prod", "--json", *args])
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


def test_plan_on_a_stage_warns_and_bills_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN prod's stack config: 500 workers at once, Parameter Store at its default throughput
    monkeypatch.setenv(environment.PULUMI_DIR, str(ROOT))
    answer = plan_on_prod(tmp_path)
    assert any(
        w.startswith(
            "experiment `openai-chat` reads 1 secret (`api_key`) in each cold worker: this run starts 500 workers"
        )
        for w in answer["warnings"]
    )
    # WHEN the stage has higher throughput on THEN no warning, and 500 reads at $0.05 per 10,000 in the estimate
    on = tmp_path / "settings.yaml"
    on.write_text("ssm_high_throughput: 1\n")
    answer = plan_on_prod(tmp_path, "--settings", str(on))
    assert not any("Parameter Store" in w for w in answer["warnings"])
    assert answer["estimate"]["cost"]["ssm_high_throughput"] == {
        "units": 500.0,
        "unit": "API interactions",
        "usd": 0.0025,
    }


def test_a_stack_that_turns_high_throughput_on_plans_without_the_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN prod's stack config with `sweep:ssmHighThroughput: true` (the stack then turns it on for the account)
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    prod = (ROOT / "Pulumi.prod.yaml").read_text().replace("config:\n", "config:\n  sweep:ssmHighThroughput: true\n", 1)
    (stacks / "Pulumi.prod.yaml").write_text(prod)
    monkeypatch.setenv(environment.PULUMI_DIR, str(stacks))
    answer = plan_on_prod(tmp_path)
    assert not any("Parameter Store" in w for w in answer["warnings"])
    assert answer["estimate"]["cost"]["ssm_high_throughput"]["units"] == 500.0
