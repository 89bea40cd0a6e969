"""A task set by reference to an S3 object (`tasks: s3://…`, `tasks_sha256`), through the Lambda
handlers under moto: submit fetches and verifies it, every worker process fetches and verifies it
again, and a changed object gives error rows that say so, never a row pretending success."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from moto import mock_aws

from sweep_experiments.llm import tasks
from tests.cloud import BUCKET, Stage, make_stage
from tests.llm_fake import FakeModelServer
from tests.llm_helpers import rows

ITEMS = [
    {"messages": [{"role": "user", "content": "What is 2 + 2? Answer with the number only."}], "expected": "4"},
    {"messages": [{"role": "user", "content": "What is 3 * 3? Answer with the number only."}], "expected": "9"},
]
DATA = "".join(json.dumps(item) + "\n" for item in ITEMS).encode()
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def stage(aws_env: None) -> Iterator[Stage]:
    with mock_aws():
        tasks.clear_cache()
        made = make_stage()
        made.worker = replace(made.worker, secrets=lambda names: dict.fromkeys(names, ""))  # no API key
        yield made
    tasks.clear_cache()


def sweep(url: str, key: str, sha: str = SHA) -> dict[str, Any]:
    return {
        "experiment": "ollama",
        "config": {"endpoint": url, "model": "m", "tasks": f"s3://{BUCKET}/{key}", "tasks_sha256": sha},
        "grid": {"task_index": [0, 1]},
    }


def test_a_task_set_by_reference_runs_the_objects_items(stage: Stage) -> None:
    # GIVEN a task set uploaded under tasksets/ and its hash in the config
    stage.s3.put_object(Bucket=BUCKET, Key="tasksets/mine.jsonl", Body=DATA)
    with FakeModelServer().running() as server:
        # WHEN it is submitted and every shard runs in the worker handler
        status, body = stage.call("POST", "/runs", sweep(server.url, "tasksets/mine.jsonl"))
        assert status == 202, body
        tasks.clear_cache()  # the workers are other processes: each fetches it again
        outcomes = stage.run_all()
    # THEN each point sent its item from the object, and the config recorded the reference
    assert [o["status"] for o in outcomes] == ["success", "success"]
    got = rows(stage.store)
    assert [r["status"] for r in got] == ["ok", "ok"]
    assert sorted(r["messages"][-1]["content"] for r in server.requests) == sorted(
        i["messages"][0]["content"] for i in ITEMS
    )
    assert {r["config"]["tasks_sha256"] for r in got} == {SHA}


@pytest.mark.parametrize(
    ("upload", "sha", "expected"),
    [
        (True, "0" * 64, f"has SHA-256 {SHA}, not `tasks_sha256` {'0' * 64}"),
        (False, SHA, "cannot be read (NoSuchKey)"),
    ],
    ids=["wrong hash", "missing object"],
)
def test_submit_refuses_a_task_set_it_cannot_verify(stage: Stage, upload: bool, sha: str, expected: str) -> None:
    # GIVEN a reference whose object has other content, or does not exist
    key = f"tasksets/refused-{upload}.jsonl"
    if upload:
        stage.s3.put_object(Bucket=BUCKET, Key=key, Body=DATA)
    # WHEN it is submitted THEN 400 names `tasks` and says why; no shard is dispatched
    status, body = stage.call("POST", "/runs", sweep("http://127.0.0.1:9", key, sha))
    assert status == 400, body
    assert body["field"] == "config.tasks", body
    assert expected in body["message"], body
    assert stage.invokes.calls == []


def test_a_worker_refuses_an_object_changed_after_submit(stage: Stage) -> None:
    # GIVEN a run submitted against the task set, then the object overwritten with other items
    stage.s3.put_object(Bucket=BUCKET, Key="tasksets/changed.jsonl", Body=DATA)
    with FakeModelServer().running() as server:
        assert stage.call("POST", "/runs", sweep(server.url, "tasksets/changed.jsonl"))[0] == 202
        stage.s3.put_object(Bucket=BUCKET, Key="tasksets/changed.jsonl", Body=DATA.replace(b"2 + 2", b"2 + 3"))
        tasks.clear_cache()  # the workers are other processes
        # WHEN the workers run
        stage.run_all()
    # THEN no call was made and every row is an error naming the mismatch
    assert server.requests == []
    got = rows(stage.store)
    assert [(r["status"], r["error_type"]) for r in got] == [("error", "ConfigError")] * 2
    assert all("not `tasks_sha256`" in r["error_message"] for r in got)
