"""The handlers as Lambda starts them: dependencies from the environment the Pulumi program sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from sweep_aws.invoke import SignedHttpInvoker
from sweep_aws.s3 import S3Store
from sweep_aws.ssm import SsmSecrets
from sweep_contracts import layout
from sweep_contracts.errors import ConfigurationError
from sweep_orchestrator import deps
from sweep_worker import handler as worker
from tests.cloud import BUCKET, ORCHESTRATOR, PREFIX, REGION, WORKER, LambdaContext
from tests.helpers import tasks_for, vouched_points_key


@pytest.fixture
def lambda_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "SWEEP_STAGE": "test",
        "SWEEP_STORE": f"s3://{BUCKET}",
        "SWEEP_PARAMETER_PREFIX": PREFIX,
        "SWEEP_WORKER_FUNCTION": WORKER,
        "SWEEP_ORCHESTRATOR_FUNCTION": ORCHESTRATOR,
        "SWEEP_SETTINGS_TTL_S": "60",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        deps.use(None)
        worker.reset()
        yield
    deps.use(None)
    worker.reset()


def test_the_orchestrator_builds_its_adapters_from_the_environment(lambda_env: None) -> None:
    d = deps.from_environment()
    assert (d.stage, d.parameter_prefix, d.settings_ttl_s) == ("test", PREFIX, 60)
    assert isinstance(d.runtime.store, S3Store)
    assert d.runtime.store.uri == f"s3://{BUCKET}/"
    assert (d.dispatcher.worker_function, d.dispatcher.orchestrator_function) == (WORKER, ORCHESTRATOR)
    assert isinstance(d.dispatcher.invoker, SignedHttpInvoker)
    assert d.dispatcher.invoker.endpoint_url == f"https://lambda.{REGION}.amazonaws.com"


def test_the_worker_handler_runs_a_shard_into_s3(lambda_env: None) -> None:
    factory = tasks_for({"experiment": "synthetic", "config": {"y": 1.0}, "grid": {"x": [1, 2]}}, "wired-1")
    result = worker.handler(factory.event(0), LambdaContext(function_name=WORKER, aws_request_id="abc"))
    assert (result["status"], result["points_ok"], result["request_id"]) == ("success", 2, "abc")
    assert isinstance(worker.deps_from_environment().secrets, SsmSecrets)
    store = worker.deps_from_environment().store
    assert store.exists(vouched_points_key(store, "wired-1", 0) or "no outcome")
    assert store.exists(layout.outcome_key("wired-1", "success", 0))


def test_a_missing_variable_is_a_clear_configuration_error(lambda_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWEEP_WORKER_FUNCTION")
    with pytest.raises(ConfigurationError) as info:
        deps.from_environment()
    assert info.value.message == "`SWEEP_WORKER_FUNCTION` is not set, so the orchestrator cannot dispatch shards."


def test_the_orchestrator_steps_searches_through_the_function_its_environment_names(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweep_orchestrator.search.steps import LambdaSearchSteps

    # GIVEN a stage deployed before the search function: no search steps, searches are refused
    assert deps.from_environment().search_steps is None
    # WHEN the stack names the search function
    monkeypatch.setenv("SWEEP_SEARCH_FUNCTION", "sweep-test-search")
    deps.use(None)
    steps = deps.from_environment().search_steps
    # THEN steps are async invokes of it, through the orchestrator's own dispatcher
    assert isinstance(steps, LambdaSearchSteps)
    assert (steps.function, steps.dispatcher) == ("sweep-test-search", deps.from_environment().dispatcher)
