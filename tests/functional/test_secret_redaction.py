"""Secrets stay secret when an experiment fails: their values are redacted from everything the
worker writes, and an unreadable secret says why SSM refused it."""

from __future__ import annotations

import io
import logging
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from sweep_aws.ssm import SsmSecrets
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.schema import LOG_LIMIT
from sweep_worker.runner import WorkerDeps, process_event
from tests.cloud import PREFIX, Stage

SECRET = "sk-live-4f9a7c2e1b"


class Config(BaseModel):
    x: int = 0


def leaky(config: Config, secrets: dict[str, str]) -> dict[str, float]:
    if config.x == 3:  # prints its key, then enough for the log's tail cut to fall inside the key
        print(secrets["api_key"] + "y" * (LOG_LIMIT - 6), end="")
        return {"y": 1.0}
    if config.x == 1:
        raise RuntimeError(f"401 from the API with key {secrets['api_key']}")
    raise KeyError(secrets["api_key"]) if config.x == 2 else ValueError("fine")


def task(run_id: str, stop: int = 3) -> dict[str, Any]:
    return {
        "kind": "sweep.shard",
        "run_id": run_id,
        "shard_id": 0,
        "shard_count": 1,
        "start": 0,
        "stop": stop,
        "experiment": "leaky",
        "config": {"x": 0},
        "spec": {"grid": {"x": [0, 1, 2]}},
        "settings": {},
    }


def deps(stage: Stage) -> WorkerDeps:
    experiment = Experiment(name="leaky", config_model=Config, secrets=("api_key",), run=leaky)
    return WorkerDeps(
        store=stage.worker.store, registry=Registry([experiment]), secrets=SsmSecrets(PREFIX, client=stage.ssm)
    )


def test_a_secret_in_an_experiments_error_is_redacted_everywhere(
    stage: Stage, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an experiment whose errors quote its API key
    stage.ssm.put_parameter(Name=f"{PREFIX}secrets/api_key", Value=SECRET, Type="SecureString")
    caplog.set_level(logging.DEBUG, logger="sweep")
    # WHEN its points fail
    result = process_event(task("leak-1"), deps(stage))
    # THEN no object and no log line holds the value; the messages name the secret instead
    assert result["points_failed"] == 3
    everything = b"".join(stage.store.get(k) or b"" for k in stage.object_keys())
    assert SECRET.encode() not in everything
    assert b"401 from the API with key [secret `api_key`]" in everything
    assert SECRET not in caplog.text


def test_an_unreadable_secret_says_why_ssm_refused_it(stage: Stage) -> None:
    result = process_event(task("leak-2"), deps(stage))
    assert result["error_code"] == "SECRET_UNAVAILABLE"
    assert (
        f"`{PREFIX}secrets/api_key` could not be read: ParameterNotFound: Parameter {PREFIX}secrets/api_key not found. "
        in result["error_message"]
    )
    assert "NoneType" not in result["error_message"]


def test_no_part_of_a_secret_survives_the_logs_tail_cut(stage: Stage) -> None:
    # GIVEN a point that prints its key followed by LOG_LIMIT - 6 characters: the capture keeps the
    # last LOG_LIMIT characters, so its cut falls 6 characters before the end of the key
    stage.ssm.put_parameter(Name=f"{PREFIX}secrets/api_key", Value=SECRET, Type="SecureString")
    event = {**task("leak-3", stop=1), "config": {"x": 3}, "spec": {}}
    # WHEN it runs
    assert process_event(event, deps(stage))["points_ok"] == 1
    # THEN its log keeps the printed tail, and no 4 or more characters of the key's end
    (key,) = list(stage.object_keys("points/"))
    log = pq.read_table(io.BytesIO(stage.store.get(key) or b"")).column("log").to_pylist()[0]
    assert log.endswith("`]" + "y" * (LOG_LIMIT - 6))
    assert [SECRET[-n:] for n in range(4, len(SECRET) + 1) if SECRET[-n:] in log] == []
