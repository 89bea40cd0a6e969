"""Stage defaults per experiment (issue 10): read from SSM (moto) or the settings file, merged ONCE at
submit under the request's config, carried by every shard task, recorded with provenance; nothing
downstream reads them again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sweep_aws.ssm import SsmSettings
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import LocalStore, MemoryStore
from sweep_orchestrator.dispatch import RecordingDispatcher
from sweep_orchestrator.retry import retry_run
from sweep_orchestrator.runs import load_manifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.submit import submit_run
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import FIXED_NOW

PREFIX = "/sweep/test/"
SWEEP: dict[str, Any] = {
    "experiment": "maze",
    "run_id": "defaults-1",
    "config": {"size": 11, "strategy": "dfs-recall"},
    "grid": {"recall_interval": [1, 5]},
}
SWEEP_CLI = Path(sys.executable).with_name("sweep")


@pytest.fixture
def ssm(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def put(ssm: Any, key: str, value: str) -> None:
    ssm.put_parameter(Name=f"{PREFIX}experiments/maze/{key}", Value=value, Type="String", Overwrite=True)


def runtime(ssm: Any, store: MemoryStore) -> tuple[Runtime, RecordingDispatcher, SsmSettings]:
    dispatcher, settings = RecordingDispatcher(), SsmSettings(PREFIX, client=ssm)
    return Runtime(store=store, dispatcher=dispatcher, settings=settings, clock=lambda: FIXED_NOW), dispatcher, settings


def test_ssm_defaults_are_merged_under_the_request_and_recorded(ssm: Any) -> None:
    # GIVEN stage defaults for maze: max_moves (set twice: version 2), strategy, and a bad short_memory
    put(ssm, "max_moves", "500")
    put(ssm, "max_moves", "800")
    put(ssm, "strategy", "random-walk")
    put(ssm, "short_memory", "0")
    store = MemoryStore()
    rt, dispatcher, _ = runtime(ssm, store)
    # WHEN a run that sets size and strategy itself is submitted
    _, manifest = submit_run(SWEEP, rt)
    # THEN every task carries the merged config: the request's values win over the stage's
    merged = {"size": 11, "strategy": "dfs-recall", "max_moves": 800}
    assert [event["config"] for event in dispatcher.events] == [merged] * len(dispatcher.events)
    # AND the manifest records each key's value and source, and keeps the request as submitted
    assert manifest.request.config == SWEEP["config"]
    provenance = manifest.config_provenance
    assert provenance["size"] == {"value": 11, "source": "request"}
    assert provenance["strategy"] == {"value": "dfs-recall", "source": "request"}
    assert provenance["max_moves"] == {"value": 800, "source": "ssm", "version": 2}
    assert provenance["loops"] == {"value": 0.0, "source": "default"}
    assert provenance["short_memory"] == {
        "value": 3,
        "source": "default",
        "note": "ssm value 0 ignored: `short_memory` of experiment `maze` cannot be 0: "
        "input should be greater than or equal to 1.",
    }
    assert "seed" not in provenance  # every point's seed is its repeat's
    assert load_manifest(store, "defaults-1") == manifest


def test_changing_ssm_after_submit_changes_nothing_for_the_run(ssm: Any) -> None:
    # GIVEN a run submitted with max_moves 800 from SSM
    put(ssm, "max_moves", "800")
    store = MemoryStore()
    rt, dispatcher, settings = runtime(ssm, store)
    submit_run(SWEEP, rt)
    first = list(dispatcher.events)
    # WHEN an operator changes the default and the run's shards are retried (cache cleared too)
    put(ssm, "max_moves", "5")
    settings.clear()
    dispatcher.events.clear()
    retry_run(rt, "defaults-1", all_overdue=True)
    # THEN the retried tasks carry the config of the submit, and the worker evaluates exactly that
    assert [event["config"] for event in dispatcher.events] == [event["config"] for event in first]
    outcome = process_event(dispatcher.events[0], WorkerDeps(store=store, registry=Registry.default()))
    assert outcome["status"] == "success"
    assert load_manifest(store, "defaults-1").config_provenance["max_moves"]["value"] == 800


def test_ssm_down_gives_the_built_in_defaults_with_the_reason(ssm: Any) -> None:
    # GIVEN SSM refuses reads
    put(ssm, "max_moves", "800")

    def deny(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetParametersByPath")

    ssm.meta.events.register("before-send.ssm.GetParametersByPath", deny)
    rt, dispatcher, _ = runtime(ssm, MemoryStore())
    # WHEN a run is submitted
    _, manifest = submit_run(SWEEP, rt)
    # THEN the tasks carry the request's config alone and the manifest says why
    assert dispatcher.events[0]["config"] == SWEEP["config"]
    assert manifest.config is None
    record = manifest.config_provenance["max_moves"]
    assert (record["value"], record["source"]) == (1000, "default")
    assert record["note"].startswith("ssm unavailable, built-in default used")
    assert "ThrottlingException" in record["note"]


def test_local_settings_file_gives_defaults_with_the_same_precedence(tmp_path: Path) -> None:
    # GIVEN a settings file with maze defaults, and a sweep file that sets strategy itself
    (tmp_path / "settings.yaml").write_text(
        "shard_size: 1\nexperiments:\n  maze: {max_moves: 700, strategy: wall-follower}\n"
    )
    (tmp_path / "sweep.yaml").write_text(json.dumps(SWEEP))
    # WHEN it runs locally
    result = subprocess.run(  # noqa: PLW1510 - asserted below
        [str(SWEEP_CLI), "run", "sweep.yaml", "--settings", "settings.yaml", "--out", "out", "-q", "-w", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    # THEN the file's default applies under the request, recorded with source `file`, and the points ran it
    manifest = load_manifest(LocalStore(tmp_path / "out"), "defaults-1")
    assert manifest.config == {"size": 11, "strategy": "dfs-recall", "max_moves": 700}
    assert manifest.config_provenance["max_moves"] == {"value": 700, "source": "file"}
    assert manifest.config_provenance["strategy"] == {"value": "dfs-recall", "source": "request"}
    assert isinstance(manifest, RunManifest)


def test_a_bad_default_in_the_settings_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("experiments:\n  maze: {max_moves: -1}\n")
    (tmp_path / "sweep.yaml").write_text(json.dumps(SWEEP))
    result = subprocess.run(  # noqa: PLW1510 - asserted below
        [str(SWEEP_CLI), "plan", "sweep.yaml", "--settings", "settings.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: `max_moves` of experiment `maze` cannot be -1: input should be greater than or equal to 1."
    ), result.stderr
