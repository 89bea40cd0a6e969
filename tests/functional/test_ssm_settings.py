"""Stage settings from SSM under moto: the versions a run's manifest records, the TTL cache, and
the defaults (with a retry after 30 s) when SSM cannot be read. The adapter owns its SSM call, so
these hold whatever a library upgrade does to its internals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sweep_aws.ssm import GET_PARAMETERS_MAX_NAMES, RETRY_AFTER_FAILURE_S, Parameter, SsmSettings, read_names
from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.dispatch import RecordingDispatcher
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.submit import submit_run

PREFIX = "/sweep/test/"
SWEEP: dict[str, Any] = {"experiment": "synthetic", "run_id": "ssm-1", "config": {"x": 1.0}, "grid": {"y": [1, 2]}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ssm(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def put(ssm: Any, name: str, value: str) -> None:
    ssm.put_parameter(Name=PREFIX + name, Value=value, Type="String", Overwrite=True)


def test_the_manifest_records_the_ssm_version_of_each_setting(ssm: Any) -> None:
    # GIVEN an operator set max_points twice (version 2) and shard_size once
    put(ssm, "max_points", "5000")
    put(ssm, "max_points", "6000")
    put(ssm, "shard_size", "1")
    store = MemoryStore()
    rt = Runtime(store=store, dispatcher=RecordingDispatcher(), settings=SsmSettings(PREFIX, client=ssm))
    # WHEN a run is submitted
    submit_run(SWEEP, rt)
    # THEN its manifest records each effective value, where it came from and its version
    manifest = RunManifest.from_json(store.get(layout.manifest_key("ssm-1")) or b"")
    assert manifest.settings["max_points"] == {"value": 6000, "source": "ssm", "version": 2}
    assert manifest.settings["shard_size"] == {"value": 1, "source": "ssm", "version": 1}
    assert manifest.settings["max_shards"] == {"value": 10_000, "source": "default"}
    assert manifest.plan.shard_count == 2  # and the plan used them


def test_settings_are_read_by_name_and_never_by_a_path_that_reaches_secrets(ssm: Any) -> None:
    # GIVEN a setting set twice, a secret and an unknown parameter under the stage prefix
    put(ssm, "shard_size", "4")
    ssm.put_parameter(Name=PREFIX + "secrets/api_key", Value="s3cr3t", Type="SecureString")
    put(ssm, "shard_size", "5")
    put(ssm, "not_a_setting", "1")
    paths: list[str] = []
    ssm.meta.events.register(
        "provide-client-params.ssm.GetParametersByPath", lambda params, **_: paths.append(params["Path"])
    )
    # WHEN the settings are read
    settings = SsmSettings(PREFIX, client=ssm)()
    # THEN they are read by name; the only paths read are the experiment defaults' and the secret
    # bindings' (siblings of secrets/, never it)
    assert settings.records()["shard_size"] == {"value": 5, "source": "ssm", "version": 2}
    assert paths == [PREFIX + "experiments/", PREFIX + "secret-bindings/"]
    assert read_names(ssm, PREFIX, ["shard_size", "max_points"]) == {"shard_size": Parameter("5", 2)}


def test_settings_are_read_again_once_the_ttl_has_passed(ssm: Any) -> None:
    # GIVEN settings cached for 300 s
    put(ssm, "shard_size", "7")
    clock, reads = Clock(), Counter[str]()
    for call in ("GetParameters", "GetParametersByPath"):
        ssm.meta.events.register(f"before-send.ssm.{call}", lambda **_: reads.update(["read"]))
    settings = SsmSettings(PREFIX, client=ssm, ttl_s=300, clock=clock)
    assert settings().shard_size == 7
    # WHEN an operator changes the value
    put(ssm, "shard_size", "9")
    # THEN it shows only once the TTL has passed, with its new version
    clock.now += 299
    assert settings().shard_size == 7
    # by name, then the defaults, then the secret bindings
    per_read = -(-len(SystemSettings.names()) // GET_PARAMETERS_MAX_NAMES) + 2
    assert reads["read"] == per_read
    clock.now += 1
    assert settings().records()["shard_size"] == {"value": 9, "source": "ssm", "version": 2}
    assert reads["read"] == 2 * per_read


def test_unreadable_ssm_gives_defaults_and_is_tried_again_after_the_retry_window(ssm: Any) -> None:
    # GIVEN SSM refuses every read
    put(ssm, "shard_size", "7")
    clock, reads = Clock(), Counter[str]()

    def deny(**_: Any) -> None:
        reads.update(["read"])
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParametersByPath")

    ssm.meta.events.register("before-send.ssm.GetParameters", deny)
    settings = SsmSettings(PREFIX, client=ssm, clock=clock)
    # WHEN settings are read THEN the defaults apply, and the provenance says why
    record = settings().records()["shard_size"]
    assert (record["source"], record["note"].startswith("ssm unavailable")) == ("default", True)
    assert "AccessDeniedException" in record["note"]
    # AND SSM is not asked again within the retry window
    clock.now += RETRY_AFTER_FAILURE_S - 1
    settings()
    assert reads["read"] == 1
    # AND once SSM answers again, after the window, its values apply
    ssm.meta.events.unregister("before-send.ssm.GetParameters", deny)
    clock.now += 1
    assert settings().records()["shard_size"] == {"value": 7, "source": "ssm", "version": 1}
